"""A loss term as data: which layer's code is compared with a target, by which loss, how strongly.

Free of MXNet, so an experiment can declare its terms before a network is loaded; ``fmi.core.losses``
builds each term's symbols and ``fmi.core.invert`` minimises their sum.
"""
from dataclasses import dataclass

LOSS_KINDS = ("content", "channel_sum", "gram")


@dataclass(frozen=True)
class Term:
    """One loss term: compare ``layer``'s code with a target by ``kind`` (one of ``LOSS_KINDS``), times
    ``weight``, divided by the layer's size if ``normalise``."""

    layer: str
    kind: str = "content"
    weight: float = 1.0
    normalise: bool = False
