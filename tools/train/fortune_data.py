"""The training text: Debian's `fortunes` package (the non-offensive set in /usr/share/games/fortunes).

Each file holds fortunes separated by lines that are a single `%`. We drop the separators, strip
trailing blank lines, and join the fortunes with one blank line between them. Every 20th fortune (in
sorted-file order, counting from the first) is held out for evaluation: ~5%, deterministic.
`ascii-art` is left out (pictures, not prose).
"""
import os

FORTUNE_DIR = "/usr/share/games/fortunes"
SKIP = {"ascii-art"}
HOLD_OUT_EVERY = 20


def read_fortunes(directory=FORTUNE_DIR):
    fortunes = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if "." in name or name in SKIP or not os.path.isfile(path):
            continue  # .dat indexes and .u8 links
        text = open(path, "rb").read().replace(b"\r\n", b"\n")
        for chunk in text.split(b"\n%\n"):
            chunk = chunk.strip(b"%\n").rstrip()
            if chunk:
                fortunes.append(chunk)
    return fortunes


def split_streams(directory=FORTUNE_DIR):
    """(train bytes, held-out bytes), each fortune followed by a blank line."""
    train, held = [], []
    for i, f in enumerate(read_fortunes(directory)):
        (held if i % HOLD_OUT_EVERY == 0 else train).append(f + b"\n\n")
    return b"".join(train), b"".join(held)


if __name__ == "__main__":
    tr, ho = split_streams()
    print(f"train {len(tr)} bytes, held-out {len(ho)} bytes")
