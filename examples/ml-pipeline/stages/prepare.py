"""prepare: split the posts into train and test sets (prepare.split, prepare.seed)."""
import os
import random
from common import params

p = params()["prepare"]
rng = random.Random(p["seed"])
with open("data/posts.tsv") as f:
    header, *rows = f.read().splitlines()
train, test = [], []
for row in rows:
    (test if rng.random() < p["split"] else train).append(row)
os.makedirs("build/prepared", exist_ok=True)
for name, part in (("train", train), ("test", test)):
    with open(f"build/prepared/{name}.tsv", "w") as f:
        f.write("\n".join([header, *part]) + "\n")
print(f"train {len(train)} rows, test {len(test)} rows")
