"""Group objects into classes of equal ones, comparing each object once (for batched plants)."""

from __future__ import annotations


class EqualityClasses:
    """Number the classes of equal objects, e.g. the plant parameters of a batch of cart-poles.

    Each object is compared with the known classes the first time it is seen;
    after that its class is looked up by identity. The objects are kept, so
    their ids stay unique while they are known.
    """

    def __init__(self):
        self._known: dict = {}  # id(obj) -> (obj, class index)
        self.representatives: list = []

    def index(self, obj) -> int:
        """Return the index of the class of objects equal to ``obj`` (a new class if none is)."""
        known = self._known.get(id(obj))
        if known is None or known[0] is not obj:
            index = next((k for k, other in enumerate(self.representatives) if other == obj), None)
            if index is None:
                index = len(self.representatives)
                self.representatives.append(obj)
            known = self._known[id(obj)] = (obj, index)
        return known[1]
