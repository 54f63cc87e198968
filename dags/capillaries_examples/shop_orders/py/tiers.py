# Loyalty rules of the shop_orders example, run by py_calc (one Python process per page of rows).
# Decimal values arrive as Python numbers (an amount such as 35.00 arrives as the int 35), so convert with float().


def loyalty_tier(total_amount):
    total = float(total_amount)
    if total >= 1000:
        return "gold"
    if total >= 300:
        return "silver"
    return "bronze"


def average_order(total_amount, order_count):
    return round(float(total_amount) / order_count, 2)
