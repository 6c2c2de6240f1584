"""An NLI / hallucination classifier (a sentence-transformers ``CrossEncoder``) as verifier.

For users with a model hub or a local copy: HHEM-style models (one logit: consistent)
or MNLI-style models (three labels, one of them entailment). None ships offline, so
this verifier is not measured in this project's calibration; see docs/verification.md.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from rag.errors import ModelUnavailableError, require

from .base import Pair, Policy, VerifierBase


class NLIVerifier(VerifierBase):
    """P(entailment) of (evidence, claim) from a cross-encoder, loaded on first use.

    Args:
        model: a Hugging Face id or a local folder (e.g. ``vectara/hallucination_evaluation_model``,
            ``cross-encoder/nli-deberta-v3-base``).
        device: ``"cpu"``, ``"cuda"`` or None (auto).
        batch_size: pairs per forward pass.
        trust_remote_code: run the model's own code (HHEM-2.1 needs it; only for models you trust).
        threshold, policy: as for every verifier (default threshold 0.5: these models are
            trained so that 0.5 separates the classes).

    Raises (on first use):
        ModelUnavailableError: the model cannot be loaded (not downloaded, no hub).
    """

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 16,
                 trust_remote_code: bool = False, threshold: float | None = None, policy: Policy = "flag") -> None:
        super().__init__(threshold=0.5 if threshold is None else threshold, policy=policy)
        self.model_name, self.device, self.batch_size = model, device, batch_size
        self.trust_remote_code = trust_remote_code
        self.name = f"nli:{model}"
        self._model = None
        self._entail: int | None = None
        self._lock = threading.Lock()

    def load(self):
        """Load the cross-encoder now (idempotent)."""
        with self._lock:
            if self._model is None:
                st = require("sentence_transformers", "engine")
                try:
                    model = st.CrossEncoder(self.model_name, device=self.device,
                                          trust_remote_code=self.trust_remote_code)
                except Exception as exc:  # noqa: BLE001 - any load failure means the same to the user
                    raise ModelUnavailableError(
                        f"NLI model {self.model_name!r} could not be loaded ({type(exc).__name__}: {exc}); "
                        "give a local folder or a Hugging Face id reachable from this machine"
                    ) from exc
                config = getattr(model, "config", None) or getattr(getattr(model, "model", None), "config", None)
                labels = {int(i): str(n).lower() for i, n in (getattr(config, "id2label", None) or {}).items()}
                self._entail = next((i for i, n in labels.items() if n.startswith("entail") or n == "consistent"), None)
                self._model = model
        return self._model

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        if not pairs:
            return []
        model = self.load()
        raw = model.predict([(e, c) for c, e in pairs], batch_size=self.batch_size,
                            apply_softmax=False, convert_to_numpy=True)
        out = []
        for row in raw:
            values = [float(v) for v in (row if hasattr(row, "__len__") else [row])]
            if len(values) == 1:  # one logit (or probability): P(consistent)
                v = values[0]
                out.append(v if 0.0 <= v <= 1.0 else 1.0 / (1.0 + math.exp(-v)))
            else:
                top = max(values)
                exps = [math.exp(v - top) for v in values]
                idx = self._entail if self._entail is not None else len(values) - 1
                out.append(exps[idx] / sum(exps))
        return out
