#!/usr/bin/python3
"""Copies the smallest inputs of an AFL++ queue into the committed corpus, so CI replays what fuzzing found.

    /usr/bin/python3 tests/MedicalTransfer.Fuzzing/keep-corpus.py TARGET QUEUE_FOLDER [MAX] [MAX_BYTES]

Inputs are named afl-<first 12 hex digits of their SHA-256> (AFL's own names hold ':' and ',', which some
file systems refuse); ones already in the corpus (same content) are skipped. Keep the replay fast: the
slow targets (onnx, model-file) get fewer, smaller inputs.
"""
import hashlib
import os
import sys

target, queue = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 100
max_bytes = int(sys.argv[4]) if len(sys.argv) > 4 else 16384
corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", target)
known = set()
for name in os.listdir(corpus):
    with open(os.path.join(corpus, name), "rb") as f:
        known.add(hashlib.sha256(f.read()).hexdigest())
entries = []
for name in os.listdir(queue):
    path = os.path.join(queue, name)
    if os.path.isfile(path) and name.startswith("id:") and "orig:" not in name:
        with open(path, "rb") as f:
            data = f.read()
        if len(data) <= max_bytes:
            entries.append((len(data), name, data))
entries.sort()
kept = 0
for _, _, data in entries:
    digest = hashlib.sha256(data).hexdigest()
    if digest in known:
        continue
    known.add(digest)
    with open(os.path.join(corpus, "afl-" + digest[:12]), "wb") as f:
        f.write(data)
    kept += 1
    if kept >= limit:
        break
print("%s: kept %d of %d queue entries" % (target, kept, len(entries)))
