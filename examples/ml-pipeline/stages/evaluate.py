"""evaluate: scores of the model on the test set, written to eval/metrics.json."""
import json
from common import write_json

with open("build/model.json") as f:
    stumps = json.load(f)["stumps"]
with open("build/features/test.json") as f:
    rows = json.load(f)


def score(xs):
    return sum(s["yes"] if s["feature"] in xs else s["no"] for s in stumps) / len(stumps)


scored = [(score(set(r["x"])), r["y"]) for r in rows]
tp = sum(1 for s, y in scored if s >= 0.5 and y == 1)
fp = sum(1 for s, y in scored if s >= 0.5 and y == 0)
fn = sum(1 for s, y in scored if s < 0.5 and y == 1)
correct = sum(1 for s, y in scored if (s >= 0.5) == (y == 1))
# ROC AUC: the chance that a random positive scores above a random negative.
pos = [s for s, y in scored if y == 1]
neg = [s for s, y in scored if y == 0]
auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / max(1, len(pos) * len(neg))
precision = tp / max(1, tp + fp)
recall = tp / max(1, tp + fn)
write_json("eval/metrics.json", {
    "accuracy": round(correct / len(scored), 4),
    "precision": round(precision, 4),
    "recall": round(recall, 4),
    "roc_auc": round(auc, 4),
})
print(open("eval/metrics.json").read())
