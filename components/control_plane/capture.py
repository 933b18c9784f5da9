"""`ssh NODE sudo cat /etc/rancher/k3s/config.yaml | python -m components.control_plane.capture NODE`

Plan step 1: prints the node's config.yaml as the `liveConfig` block for its entry in
Pulumi.k3s-home.yaml. Secret keys (the token and friends) are dropped, with every other byte kept: secrets
never enter the stack config, and the stack writes its own token anyway.
"""

from __future__ import annotations

import sys

from components.config import k3s_config_file as k3s


def without_secrets(text: str) -> tuple[str, list[str]]:
    """`text` with the blocks of secret keys removed, and the names of the removed keys."""
    cfg = k3s.parse(text)
    dropped = k3s.secret_keys(cfg)
    kept = [
        p if isinstance(p, str) else p.text for p in cfg.parts if isinstance(p, str) or p.key not in dropped
    ]
    return "".join(kept), dropped


def stack_block(text: str, indent: int = 8) -> str:
    """`liveConfig: |` with `text` as a literal block at the nodes' indentation in the stack file."""
    pad = " " * (indent + 2)
    body = "".join(f"{pad}{line}" if line.strip() else "\n" for line in text.splitlines(keepends=True))
    if not body.endswith("\n"):
        body += "\n"
    return f"{' ' * indent}liveConfig: |\n{body}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: ... | python -m components.control_plane.capture NODE", file=sys.stderr)
        return 2
    try:
        text, dropped = without_secrets(sys.stdin.read())
    except ValueError as err:
        print(f"{argv[0]}: config.yaml {err}", file=sys.stderr)
        return 1
    if dropped:
        print(f"# {argv[0]}: dropped {', '.join(dropped)} (secrets stay on the node)", file=sys.stderr)
    print(f"# controlPlane.nodes[name={argv[0]}]", file=sys.stderr)
    sys.stdout.write(stack_block(text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
