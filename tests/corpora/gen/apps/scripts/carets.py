totals = {"eu": {"orders": None}}


def count(region):
    return totals[region]["orders"]["open"] + 1


print(count("eu"))
