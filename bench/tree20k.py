# bench/tree20k.py DIR: the benches' tree of 20,000 files of 0-8,192
# random bytes, 100 to a directory, 200 directories under 10 parents;
# seeded, so every run and every bench has the same shape.
import os, random, sys
random.seed(1)
root = sys.argv[1]
for d in range(200):
    p = os.path.join(root, "d%03d" % (d // 20), "e%03d" % d)
    os.makedirs(p, exist_ok=True)
    for f in range(100):
        with open(os.path.join(p, "f%03d" % f), "wb") as fh:
            fh.write(os.urandom(random.randint(0, 8192)))
