"""An id-mapped FAISS index that takes deletes and replaces without a rebuild.

Flat and IVF indexes remove ids in place. An HNSW graph cannot: a removed id becomes a
*tombstone*, kept in the graph (so searches still route through it) but left out of
every result by an id selector. When tombstones pass :data:`COMPACT_FRACTION` of the
graph's vectors, :meth:`LiveIndex.needs_compaction` says so and the writer rebuilds the
graph from the records. Tombstones are saved beside the index file (see
:func:`rag.store.index.save`), so a reader that loads an index never sees a deleted chunk.
"""

from __future__ import annotations

from typing import Iterable

from rag.store.index import IndexParams, faiss_module

#: Rebuild an HNSW graph once this fraction of its vectors are tombstones: past it,
#: searches spend more of their effort on dead vectors and recall starts to drop.
COMPACT_FRACTION = 0.2


class LiveIndex:
    """A FAISS ``IndexIDMap2`` (ids are chunk ids) and the ids removed from it.

    Args:
        index: the id-mapped FAISS index.
        kind: ``flat``, ``hnsw`` or ``ivf``.
        dead: tombstoned chunk ids (HNSW only; always empty for the other kinds).
    """

    def __init__(self, index, kind: str, dead: Iterable[int] = ()) -> None:
        self.faiss = index
        self.kind = kind
        self.dead: set[int] = set(int(i) for i in dead)
        self._exclude = None  # cached selector over ``dead``

    @property
    def ntotal(self) -> int:
        """Live vectors (tombstones not counted)."""
        return int(self.faiss.ntotal) - len(self.dead)

    def ids(self) -> set[int]:
        """The live chunk ids."""
        return set(faiss_module().vector_to_array(self.faiss.id_map).tolist()) - self.dead

    def add(self, vectors, ids) -> None:
        """Add unit vectors under chunk ids (ids are never reused, so never tombstones)."""
        self.faiss.add_with_ids(vectors, ids)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove chunk ids that the index holds: in place, or as tombstones for HNSW."""
        import numpy as np

        ids = [int(i) for i in ids]
        if not ids:
            return
        if self.kind == "hnsw":
            self.dead.update(ids)
            self._exclude = None
            return
        self.faiss.remove_ids(faiss_module().IDSelectorBatch(np.asarray(ids, dtype="int64")))

    def needs_compaction(self) -> bool:
        """True when tombstones are :data:`COMPACT_FRACTION` or more of the stored vectors."""
        return bool(self.dead) and len(self.dead) >= COMPACT_FRACTION * int(self.faiss.ntotal)

    def search_params(self, params: IndexParams, allowed: set[int] | None):
        """Search parameters for a query: keep only ``allowed`` ids when given (they come
        from the records, so hold no tombstone), else leave out the tombstones; None when
        neither applies (an unfiltered search, which may then run on a GPU copy)."""
        if allowed is not None:
            return self._typed(params, _batch(allowed))
        if not self.dead:
            return None
        if self._exclude is None:
            inner = _batch(self.dead)
            self._exclude = faiss_module().IDSelectorNot(inner)
            self._exclude._keep = inner  # the Not selector does not own the one it wraps
        return self._typed(params, self._exclude)

    def _typed(self, params: IndexParams, selector):
        # Each index family only accepts its own parameter class (IVF refuses the base one).
        faiss = faiss_module()
        if self.kind == "hnsw":
            out = faiss.SearchParametersHNSW()
            out.efSearch = params.hnsw_ef_search
        elif self.kind == "ivf":
            out = faiss.SearchParametersIVF()
            out.nprobe = params.ivf_nprobe
        else:
            out = faiss.SearchParameters()
        out.sel = selector
        out._keep = selector  # keep the selector alive as long as the parameters
        return out


def _batch(ids: Iterable[int]):
    import numpy as np

    ids = list(ids)
    return faiss_module().IDSelectorBatch(np.fromiter(ids, dtype="int64", count=len(ids)))
