def open_cache(tenant):
    try:
        raise PermissionError(13, "Permission denied", f"/var/lib/app/cache-{tenant}.db")
    except PermissionError as exc:
        exc.add_note(f"while opening the cache for tenant {tenant}")
        exc.add_note("hint: check the service user's permissions")
        raise


open_cache(42)
