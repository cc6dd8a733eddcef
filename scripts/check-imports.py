#!/usr/bin/env python3
"""Checks that Package.swift declares, for every target, exactly the modules its sources import.

A module imported but not declared compiles only by accident (another dependency happens to bring
it into the build), and breaks when that dependency changes; a module declared but not imported is
a false edge in the package graph, and links code the target does not use. So for each target of
the root package: the set of `import X` in its Swift sources (system modules excepted) must equal
the set of its declared dependencies (targets by name, products by their module), no more, no less.

The manifest is read with `swift package dump-package` (SwiftPM's own reading of it, not a parse
of the Swift text), with a scratch path of its own so that it never waits for a build holding the
package's `.build` lock. Products are taken to be named after their one module, as every product
this package uses is; a product that is not would need an entry in PRODUCT_MODULES.

Usage: scripts/check-imports.py [package directory]   (exit 0: all match; 1: a mismatch, listed)
"""

import json
import os
import re
import subprocess
import sys
import tempfile

# Modules of the toolchain and the operating system: importing them needs no declared dependency.
SYSTEM_MODULES = {
    "Swift", "SwiftShims", "_Concurrency", "_StringProcessing", "RegexBuilder", "Observation",
    "Synchronization", "Dispatch", "Foundation", "FoundationEssentials", "FoundationInternationalization",
    "FoundationNetworking", "FoundationXML", "CoreFoundation", "Glibc", "Musl", "Bionic", "Android",
    "Darwin", "WinSDK", "os", "XCTest", "Testing", "Cxx", "CxxStdlib",
}

# Products whose module is not named after them (none so far).
PRODUCT_MODULES: dict[str, set[str]] = {}

IMPORT = re.compile(
    r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*"              # attributes: @testable, @_spi(X), @preconcurrency
    r"(?:(?:public|package|internal|fileprivate|private)\s+)?"
    r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?"
    r"([A-Za-z_]\w*)",
    re.MULTILINE,
)
MULTILINE_STRING = re.compile(r'#*"""(?:.|\n)*?"""#*')
BLOCK_COMMENT = re.compile(r"/\*(?:.|\n)*?\*/")
LINE_COMMENT = re.compile(r"//.*")


def module_name(target_name: str) -> str:
    """The Swift module of a target: its name with characters a module name cannot hold as `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", target_name)


def imports_of(directory: str, excluded: list[str]) -> set[str]:
    found: set[str] = set()
    excluded_paths = [os.path.join(directory, e) for e in excluded]
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in excluded_paths]
        for name in files:
            path = os.path.join(root, name)
            if not name.endswith(".swift") or path in excluded_paths:
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # Code only: an `import json` inside a string literal (a Python script a test runs) or a
            # comment is not an import.
            text = MULTILINE_STRING.sub("", text)
            text = BLOCK_COMMENT.sub("", text)
            text = LINE_COMMENT.sub("", text)
            found.update(IMPORT.findall(text))
    return found - SYSTEM_MODULES


def declared_modules(target: dict) -> set[str]:
    modules: set[str] = set()
    for dependency in target["dependencies"]:
        kind, value = next(iter(dependency.items()))
        if kind in ("byName", "target"):
            modules.add(module_name(value[0]))
        elif kind == "product":
            modules.update(PRODUCT_MODULES.get(value[0], {module_name(value[0])}))
        else:
            raise SystemExit(f"check-imports: unknown dependency kind {kind!r} in {target['name']}")
    return modules


def main() -> int:
    package = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    with tempfile.TemporaryDirectory(prefix="check-imports-") as scratch:
        manifest = json.loads(subprocess.run(
            ["swift", "package", "--package-path", package, "--scratch-path", scratch, "dump-package"],
            check=True, capture_output=True, text=True).stdout)

    problems = []
    for target in manifest["targets"]:
        if target["type"] in ("system", "binary", "plugin", "macro"):
            continue
        default_root = "Tests" if target["type"] == "test" else "Sources"
        directory = os.path.join(package, target.get("path") or os.path.join(default_root, target["name"]))
        imported = imports_of(directory, target.get("exclude") or [])
        declared = declared_modules(target)
        undeclared, unused = sorted(imported - declared), sorted(declared - imported)
        if undeclared:
            problems.append(f"{target['name']}: imports {', '.join(undeclared)} without declaring it")
        if unused:
            problems.append(f"{target['name']}: declares {', '.join(unused)} but never imports it")

    for problem in problems:
        print(problem)
    if problems:
        print(f"check-imports: {len(problems)} mismatch(es) between Package.swift and the imports")
        return 1
    print(f"check-imports: the dependencies of all {len(manifest['targets'])} targets match their imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
