"""train: bagged decision stumps (train.n_est of them, train.seed, train.min_split), a
stand-in for the random forest of DVC's example that needs nothing but the standard library."""
import json
import random
from common import params, write_json

p = params()["train"]
rng = random.Random(p["seed"])
with open("build/features/train.json") as f:
    rows = json.load(f)
with open("build/features/vocab.json") as f:
    n_features = len(json.load(f))


def leaf(sample):
    ones = sum(r["y"] for r in sample)
    return (ones + 1) / (len(sample) + 2)


def stump(sample):
    """The feature whose presence best separates the labels (Gini), among a random third."""
    best = None
    for feat in rng.sample(range(n_features), max(1, n_features // 3)):
        has = [r for r in sample if feat in r["xs"]]
        hasnt = [r for r in sample if feat not in r["xs"]]
        if len(has) < p["min_split"] or len(hasnt) < p["min_split"]:
            continue
        gini = sum(len(part) * 2 * leaf(part) * (1 - leaf(part)) for part in (has, hasnt))
        if best is None or gini < best[0]:
            best = (gini, feat, leaf(has), leaf(hasnt))
    return {"feature": best[1], "yes": best[2], "no": best[3]} if best else {"feature": -1, "yes": leaf(sample), "no": leaf(sample)}


for r in rows:
    r["xs"] = set(r["x"])
stumps = [stump([rng.choice(rows) for _ in rows]) for _ in range(p["n_est"])]
write_json("build/model.json", {"stumps": stumps})
print(f"{len(stumps)} stumps")
