def parse(row):
    return {"id": row[0], "name": row[1]


print(parse(["1", "x"]))
