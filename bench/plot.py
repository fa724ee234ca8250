"""Draw bench/results/results.png from results.json (written by
bench/cmd/compare): /predict throughput and p99 latency against concurrency
for mlserve, the FastAPI reference (httptools and h11) and the bare Go echo
handler."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    with open(src) as f:
        rep = json.load(f)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"mlserve": "o-", "reference": "s--", "reference-h11": "x--", "echo": "^:"}
    for name in styles:
        pts = sorted((p for p in rep["predict"] if p["server"] == name), key=lambda p: p["concurrency"])
        if not pts:
            continue
        c = [p["concurrency"] for p in pts]
        ax1.plot(c, [p["requests_per_s"] for p in pts], styles[name], label=name)
        ax2.plot(c, [p["p99_ms"] for p in pts], styles[name], label=name)
    levels = sorted({p["concurrency"] for p in rep["predict"]})
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_yscale("log")
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ax1.set_ylabel("requests/s")
    ax1.set_title("/predict throughput")
    ax2.set_ylabel("p99 latency (ms)")
    ax2.set_title("/predict p99 latency")
    fig.suptitle(f"{rep['model']}, {rep['cpus']} CPUs, {rep['duration_per_point']} per point ({rep['date']})")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
