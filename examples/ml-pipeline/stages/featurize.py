"""featurize: bag of words and n-grams over the most frequent terms (featurize.max_features,
featurize.ngrams)."""
from collections import Counter
from common import params, write_json

p = params()["featurize"]


def terms(text):
    words = text.split()
    out = []
    for n in range(1, p["ngrams"] + 1):
        out += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return out


def load(name):
    with open(f"build/prepared/{name}.tsv") as f:
        rows = [line.split("\t") for line in f.read().splitlines()[1:]]
    return [(int(label), terms(text)) for _id, label, text in rows]


train, test = load("train"), load("test")
counts = Counter(t for _label, ts in train for t in set(ts))
vocab = sorted(t for t, _n in counts.most_common(p["max_features"]))
index = {t: i for i, t in enumerate(vocab)}
for name, rows in (("train", train), ("test", test)):
    write_json(f"build/features/{name}.json", [{"y": y, "x": sorted({index[t] for t in ts if t in index})} for y, ts in rows])
write_json("build/features/vocab.json", vocab)
print(f"{len(vocab)} features")
