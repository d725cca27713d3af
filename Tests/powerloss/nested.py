"""Power cut during recovery: a few crash states with a torn tail (recovery must cut and rewrite) are recovered by
`dlms-bridge spool-recover` under strace, starting from that state as what is on the card, and that trace is
replayed like a workload. Everything the first recovery of the state returned must survive a power cut at any
point of the second; the invariants are the same."""
from __future__ import annotations

import os
import subprocess
from collections import Counter

from model import materialize, state_hash
from record import TRACED, Recording, mount_tmpfs, unmount
from replay import Expect, replay


def nested_recoveries(bridge: str, rec: Recording, rep, scratch: str, work: str, limit: int = 4):
    """Returns (recoveries traced, crash states, Counter of violations, examples)."""
    done, states, bad, examples = 0, 0, Counter(), []
    candidates = [c for c in rep.torn if rep.results[state_hash(c[2])].get("truncated", 0) > 0]
    for k, (point, kind, state, expect) in enumerate(candidates[:limit]):
        first = rep.results[state_hash(state)]
        where = os.path.join(work, f"nested{k}")
        root = os.path.join(where, "root")
        mount_tmpfs(root)  # its own mount: the replayed states on `scratch` look like another boot
        try:
            materialize(state, root)
            markers = os.path.join(where, "markers")
            trace = os.path.join(where, "trace.txt")
            mfd = os.open(markers, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUNTIME_DIRECTORY": where,
                   "DLMS_BRIDGE_POWERLOSS_FD": str(mfd), "DLMS_BRIDGE_POWERLOSS_SPOOL": rec.overrides}
            p = subprocess.run(["strace", "-f", "-y", "-xx", "-s", "1048576", "-qq", "-e", f"trace={TRACED}",
                                "-o", trace, bridge, "spool-recover", "--env-file", rec.env_file,
                                os.path.join(root, rec.spool_rel)],
                               env=env, pass_fds=(mfd,), capture_output=True, text=True, timeout=60)
            os.close(mfd)
            if p.returncode != 0:
                bad["starts"] += 1
                examples.append(f"{rec.workload.name} crash point {point} ({kind}): spool-recover: {p.stdout[-300:]}")
                continue
            sub = Recording(rec.workload, root, markers, [trace], rec.env_file, rec.overrides, 0, 0, rec.spool_rel)
            # The lease and cursors the first recovery returned must survive a power cut in the second.
            baseline = Expect(frozenset(s for s, _ in first["d1"]), expect.durable_low, expect.durable_acked,
                              expect.max_handed, expect.acked, first.get("lease"),
                              tuple(sorted(first.get("cursors", {}).items())), expect.evicted, expect.rows)
            srep = replay(bridge, sub, scratch, initial=state, baseline=baseline, known=rep.written)
            done += 1
            states += sum(srep.states.values())
            bad.update(srep.violations)
            if not srep.model_matches_disk:
                bad["model"] += 1
            examples += [f"nested in {e}" for e in srep.examples[:2]]
        finally:
            unmount(root)
    return done, states, bad, examples

