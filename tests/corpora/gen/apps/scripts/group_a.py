def check(rows):
    errors = []
    for i, row in enumerate(rows):
        try:
            int(row)
        except ValueError as exc:
            exc.add_note(f"row {i}")
            errors.append(exc)
    inner = ExceptionGroup("bad rows in batch 7", errors)
    raise ExceptionGroup("import of batch 7 failed", [inner, KeyError("schema")])


check(["1", "x", "y"])
