"""Money: CNY in Decimal, quantized to one fen with ROUND_HALF_UP, in this one place."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def quantize_money(value) -> Decimal:
    return Decimal(str(value)).quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen(value) -> int:
    """Integer fen, as the card gateway takes amounts."""
    return int(quantize_money(value) * 100)
