"""Writes data/posts.tsv: a small, deterministic stand-in for DVC's StackOverflow posts example
(label 1: a Python question). Run once; the file is committed."""
import random

rng = random.Random(2024)
PY = ["python", "pandas", "numpy", "django", "pip", "list comprehension", "dict", "virtualenv", "flask", "decorator", "generator", "asyncio"]
OTHER = ["javascript", "react", "css", "java", "spring", "sql", "docker", "rust", "golang", "kotlin", "typescript", "bash"]
COMMON = ["how", "to", "fix", "error", "when", "using", "with", "my", "code", "function", "install", "version", "the", "a", "in", "not", "working", "install", "array", "string", "loop", "file", "read", "write"]

lines = ["id\tlabel\ttext"]
for i in range(600):
    label = 1 if rng.random() < 0.45 else 0
    topic = PY if label else OTHER
    words = rng.sample(COMMON, 6) + rng.sample(topic, 2)
    # Noise: some posts borrow a word from the other side, so the task is not trivial.
    if rng.random() < 0.35:
        words.append(rng.choice(OTHER if label else PY))
    if rng.random() < 0.15:
        words = rng.sample(COMMON, 8)
    rng.shuffle(words)
    lines.append(f"{i}\t{label}\t{' '.join(words)}")
with open("data/posts.tsv", "w") as f:
    f.write("\n".join(lines) + "\n")
