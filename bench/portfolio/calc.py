# py_calc formulas of the benchmark (spec 7.1): plain top-level functions without defaults or annotations,
# because Capillaries recognises `def name(args):` signatures only.


def notional(qty, price):
    return float(qty) * float(price)


def exposure(qty, held_qty):
    if held_qty == 0:
        return 0.0
    return round(float(qty) / float(held_qty), 6)


def bucket(amount):
    if amount >= 500000.0:
        return "large"
    if amount >= 50000.0:
        return "medium"
    return "small"
