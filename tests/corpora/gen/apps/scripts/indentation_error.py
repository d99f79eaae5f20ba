def load(path):
    rows = []
    for line in open(path):
        rows.append(line)
  return rows
