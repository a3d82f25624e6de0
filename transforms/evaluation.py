"""Metric arithmetic for ``gdr evaluate`` and ``gdr sweep``: pure Python, no Beam, no torch.

What is computed (and what is not):

* A labelled pair is *correct* when ``reward(chosen) > reward(rejected)`` strictly; a tie
  counts as wrong, as in RewardBench.
* ``accuracy`` everywhere is the plain per-pair share: correct pairs / pairs, overall, per
  domain and per subset, each with its count ``n``.
* ``subset_mean``: the unweighted mean of the subsets' accuracies (each subset counts the
  same however many pairs it has). RewardBench reports per-subset accuracy and then
  combines subsets into sections with fixed per-subset weights; with weights equal to the
  subsets' sizes that is the per-pair accuracy again, with equal weights it is
  ``subset_mean``. :func:`weighted_accuracy` takes any weights.
* ``domain_mean``: the unweighted mean of the per-domain accuracies (RewardBench's final
  score is the mean of its sections).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from transforms.records import RecordError, conversation_hash, parse_conversation
from transforms.reward import density_ratio

UNLABELLED = "(none)"


def _optional_label(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"'{key}' must be a non-empty string")
    return value.strip()


def _response(raw: Mapping[str, Any], key: str) -> str:
    """A labelled response: a string, or TRL's one assistant message ``[{"role": "assistant", ...}]``."""
    value = raw.get(key)
    if value is None:
        raise RecordError(f"missing '{key}'")
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        if value[0].get("role") != "assistant":
            raise RecordError(f"'{key}' as a message list must hold one assistant message")
        value = value[0].get("content")
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RecordError(f"empty '{key}'")
    return value


def parse_labelled_pair(raw: Any) -> dict[str, Any]:
    """Validate ``{"prompt", "chosen", "rejected"}`` (+ optional ``domain``, ``subset``, ``id``).

    Raises :class:`RecordError` with the dead-letter reason. A pair whose chosen and
    rejected texts are equal is refused: no reward can prefer either, so it measures nothing.
    """
    if not isinstance(raw, dict):
        raise RecordError(f"record is not a JSON object (got {type(raw).__name__})")
    conversation = parse_conversation(raw.get("prompt"))
    chosen, rejected = _response(raw, "chosen"), _response(raw, "rejected")
    if chosen == rejected:
        raise RecordError("'chosen' and 'rejected' are the same text")
    record_id = raw.get("id")
    return {
        "conversation": conversation,
        "chosen": chosen,
        "rejected": rejected,
        "domain": _optional_label(raw, "domain"),
        "subset": _optional_label(raw, "subset"),
        "id": None if record_id is None else str(record_id),
    }


def parse_router_example(raw: Any) -> dict[str, Any]:
    """Validate ``{"prompt", "domain"}`` (the domain is required: it is the label)."""
    if not isinstance(raw, dict):
        raise RecordError(f"record is not a JSON object (got {type(raw).__name__})")
    conversation = parse_conversation(raw.get("prompt"))
    domain = _optional_label(raw, "domain")
    if domain is None:
        raise RecordError("missing 'domain' (the true label the router is measured against)")
    return {"conversation": conversation, "domain": domain, "id": None if raw.get("id") is None else str(raw["id"])}


def example_id(source: str, conversation: list[dict[str, str]]) -> str:
    """Stable id of one labelled record: its position in the input plus its prompt."""
    return "e-" + conversation_hash([{"role": "source", "content": source}, *conversation])


def is_correct(chosen_reward: float, rejected_reward: float) -> bool:
    """Strictly better: a tie is wrong (a reward that cannot tell them apart did not choose)."""
    return chosen_reward > rejected_reward


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (sound near 0 and 1 and for small n, unlike p ± 1.96·se)."""
    if not n:
        return None
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _acc(correct: int, n: int) -> dict[str, Any]:
    ci = wilson_interval(correct, n)
    return {
        "accuracy": correct / n if n else None,
        "n": n,
        "correct": correct,
        "ci95": None if ci is None else list(ci),
    }


def _length_split(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Accuracy where the chosen response is the longer one vs the shorter one (None without lengths).

    A reward that only likes long (or short) text scores high on one side and low on the other.
    """
    known = [r for r in rows if r.get("chosen_longer") is not None]
    if not known:
        return None
    out = {}
    for name, flag in (("chosen_longer", True), ("chosen_shorter", False)):
        part = [r for r in known if bool(r["chosen_longer"]) is flag]
        out[name] = _acc(sum(1 for r in part if r["correct"]), len(part))
    return out


def weighted_accuracy(by_subset: Mapping[str, Mapping[str, Any]], weights: Mapping[str, float] | None = None) -> float:
    """Weighted mean of subset accuracies; ``weights=None`` weighs every subset equally.

    Subsets without pairs or with zero weight are left out.
    """
    total = acc = 0.0
    for name, stats in by_subset.items():
        w = 1.0 if weights is None else float(weights.get(name, 0.0))
        if stats["n"] and w > 0:
            total += w
            acc += w * stats["accuracy"]
    return acc / total if total else float("nan")


def accuracy_report(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy overall, per domain and per subset from rows with ``correct``, ``domain``, ``subset``.

    Missing domain/subset labels are grouped under ``"(none)"``. Every accuracy carries its
    95 % Wilson interval (``ci95``); rows with ``chosen_longer`` also give ``by_length``
    (overall and per domain): accuracy where the chosen response is the longer vs the shorter one.
    """
    rows = list(rows)
    per_domain: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_subset: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    subsets_of_domain: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    correct = n = 0
    for r in rows:
        ok = int(bool(r["correct"]))
        domain = r.get("domain") or UNLABELLED
        subset = r.get("subset") or UNLABELLED
        correct, n = correct + ok, n + 1
        for counter in (per_domain[domain], per_subset[subset], subsets_of_domain[domain][subset]):
            counter[0] += ok
            counter[1] += 1
    by_subset = {s: _acc(*per_subset[s]) for s in sorted(per_subset)}
    by_domain = {}
    for d in sorted(per_domain):
        entry = _acc(*per_domain[d])
        inner = {s: _acc(*c) for s, c in sorted(subsets_of_domain[d].items())}
        entry["subset_mean"] = weighted_accuracy(inner)
        entry["subsets"] = inner
        split = _length_split([r for r in rows if (r.get("domain") or UNLABELLED) == d])
        if split is not None:
            entry["by_length"] = split
        by_domain[d] = entry
    report = {
        "overall": _acc(correct, n),
        "by_domain": by_domain,
        "by_subset": by_subset,
        "macro": {
            "domain_mean": _mean([e["accuracy"] for e in by_domain.values()]),
            "subset_mean": weighted_accuracy(by_subset) if by_subset else None,
        },
    }
    split = _length_split(rows)
    if split is not None:
        report["by_length"] = split
    return report


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def compare_reports(guided: Mapping[str, Any], unguided: Mapping[str, Any]) -> dict[str, Any]:
    """Guided minus unguided accuracy, overall and per domain (positive: guides helped)."""
    domains = sorted(set(guided["by_domain"]) | set(unguided["by_domain"]))
    return {
        "overall": _diff(guided["overall"]["accuracy"], unguided["overall"]["accuracy"]),
        "by_domain": {
            d: _diff(
                guided["by_domain"].get(d, {}).get("accuracy"),
                unguided["by_domain"].get(d, {}).get("accuracy"),
            )
            for d in domains
        },
    }


def router_report(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Router accuracy, per-domain recall and confusion matrix from ``(true, predicted)`` pairs.

    ``confusion[true][pred]`` counts prompts; every true and predicted label appears as a row
    and a column (zeros included) so the matrix is square. Recall is per true domain.
    """
    pairs = list(pairs)
    labels = sorted({t for t, _ in pairs} | {p for _, p in pairs})
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in pairs:
        confusion[t][p] += 1
    recall = {}
    for t in labels:
        total = sum(confusion[t].values())
        if total:
            recall[t] = confusion[t][t] / total
    n = len(pairs)
    hits = sum(1 for t, p in pairs if t == p)
    return {"accuracy": hits / n if n else None, "n": n, "recall": recall, "confusion": confusion}


def pair_reward(logp_a: float, logp_b: float, n_a: int, n_b: int, reward: str = "sum") -> float:
    """Density-ratio reward of one response for the pair (strong A over weak B): :func:`density_ratio`."""
    return density_ratio(logp_a, logp_b, n_a, n_b, reward)


def sweep_pairs(
    model_scores: Mapping[str, Mapping[str, Mapping[str, Any]]],
    meta: Mapping[str, Mapping[str, Any]],
    reward: str = "sum",
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per-pair rows for every ordered pair of models from each model's own log-probs.

    ``model_scores[model][pair_id]`` holds ``logp_chosen``, ``n_chosen``, ``logp_rejected``,
    ``n_rejected`` (one scoring of that model); ``meta[pair_id]`` holds ``domain`` and
    ``subset``. A labelled pair enters a model pair's rows only if both models scored it.
    Returns ``{(strong, weak): rows}`` with ``correct``, ``margin`` and the labels, ready for
    :func:`accuracy_report`.
    """
    models = list(model_scores)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in models:
        for b in models:
            if a == b:
                continue
            rows = []
            for pid in sorted(set(model_scores[a]) & set(model_scores[b])):
                sa, sb = model_scores[a][pid], model_scores[b][pid]
                chosen = pair_reward(sa["logp_chosen"], sb["logp_chosen"], sa["n_chosen"], sb["n_chosen"], reward)
                rejected = pair_reward(
                    sa["logp_rejected"], sb["logp_rejected"], sa["n_rejected"], sb["n_rejected"], reward
                )
                rows.append(
                    {
                        "pair_id": pid,
                        "domain": meta[pid].get("domain"),
                        "subset": meta[pid].get("subset"),
                        "chosen_longer": meta[pid].get("chosen_longer"),
                        "chosen_reward": chosen,
                        "rejected_reward": rejected,
                        "margin": chosen - rejected,
                        "correct": is_correct(chosen, rejected),
                    }
                )
            out[(a, b)] = rows
    return out


def rank_pairs(results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per domain (and ``"overall"``), the model pairs best first: by accuracy, then by n.

    ``results[pair_name]`` is an :func:`accuracy_report`.
    """
    domains = sorted({d for r in results.values() for d in r["by_domain"]})
    ranking: dict[str, list[dict[str, Any]]] = {}
    for d in ["overall", *domains]:
        entries = []
        for name, rep in results.items():
            stats = rep["overall"] if d == "overall" else rep["by_domain"].get(d)
            if stats and stats["n"]:
                entries.append({"pair": name, "accuracy": stats["accuracy"], "n": stats["n"]})
        entries.sort(key=lambda e: (-e["accuracy"], -e["n"], e["pair"]))
        ranking[d] = entries
    return ranking
