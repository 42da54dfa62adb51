#!/usr/bin/env bash
# Installs the project's pinned npm packages with `npm ci`, each from its package-lock.json:
# hosts/node (jco and preview2-shim, for the Node host, the artifact's `jco opt` and the editor's
# transpile) and hosts/browser (CodeMirror 6, for the editor page), then applies
# hosts/node/patches/*.patch in name order. Each patch names its package and version in a
# `Package: <name>@<version>` line; it is applied with `patch -p1` in that package's
# directory, without fuzz, so a patch that no longer applies exactly fails the bootstrap
# instead of landing somewhere else. Idempotent: does nothing when the lock file and the
# patches are unchanged since the last install and every patch is still applied. Needs
# Node.js >= 20 and GNU patch.
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hosts/node" && pwd)
browser=$(cd "$dir/../browser" && pwd)
shopt -s nullglob
patches=("$dir"/patches/*.patch)

if ! command -v node >/dev/null || ! node -e "process.exit(Number(process.versions.node.split('.')[0]) < 20 ? 1 : 0)"; then
    echo "bootstrap-node: Node.js >= 20 is required, found $(node --version 2>/dev/null || echo none)" >&2
    exit 1
fi
if ((${#patches[@]})) && ! command -v patch >/dev/null; then
    echo "bootstrap-node: GNU patch is required to apply hosts/node/patches (apt-get install patch)" >&2
    exit 1
fi

# The directory of a patch's package, after checking that the installed version is the one
# the patch was made for.
package_dir() {
    local patch=$1 spec name version installed
    spec=$(sed -n 's/^Package: *//p' "$patch" | head -n 1)
    name=${spec%@*}
    version=${spec##*@}
    if [[ -z $spec || -z $name || $name == "$spec" ]]; then
        echo "bootstrap-node: $patch has no 'Package: <name>@<version>' line" >&2
        return 1
    fi
    if [[ ! -f $dir/node_modules/$name/package.json ]]; then
        echo "bootstrap-node: $patch is for $name, which is not installed" >&2
        return 1
    fi
    installed=$(node -p "require(process.argv[1]).version" "$dir/node_modules/$name/package.json")
    if [[ $installed != "$version" ]]; then
        echo "bootstrap-node: $patch was made for $name $version, but $installed is installed: remake the patch" >&2
        return 1
    fi
    echo "$dir/node_modules/$name"
}

is_applied() { # patch, package dir
    patch -p1 --reverse --dry-run --force --silent --fuzz=0 -d "$2" <"$1" >/dev/null 2>&1
}

apply_patches() {
    local patch target
    for patch in "${patches[@]}"; do
        target=$(package_dir "$patch") || return 1
        if is_applied "$patch" "$target"; then
            continue
        fi
        if ! patch -p1 --forward --dry-run --force --silent --fuzz=0 -d "$target" <"$patch" >/dev/null 2>&1; then
            echo "bootstrap-node: $(basename "$patch") no longer applies to $target:" >&2
            patch -p1 --forward --dry-run --force --fuzz=0 -d "$target" <"$patch" >&2 || true
            return 1
        fi
        echo "bootstrap-node: applying $(basename "$patch")" >&2
        patch -p1 --forward --force --silent --fuzz=0 --no-backup-if-mismatch -d "$target" <"$patch" >&2
    done
}

all_applied() {
    local patch target
    for patch in "${patches[@]}"; do
        target=$(package_dir "$patch" 2>/dev/null) || return 1
        is_applied "$patch" "$target" || return 1
    done
}

# What an install of `$1` was made from: its lock file and the files after it (patches).
fingerprint() {
    local folder=$1
    shift
    cat "$folder/package-lock.json" "$@" | sha256sum | cut -d' ' -f1
}

is_current() { # folder, files after the lock
    [[ $(cat "$1/node_modules/.lock.sha256" 2>/dev/null) == "$(fingerprint "$@")" ]]
}

npm_ci() {
    echo "bootstrap-node: installing ${1#"$(dirname "$dir")"/}/package-lock.json (npm ci)" >&2
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# A change to the lock file or a patch reinstalls from scratch, so a patch is always applied
# to the pristine package.
if ! is_current "$dir" "${patches[@]}" || ! all_applied; then
    npm_ci "$dir"
    apply_patches
    fingerprint "$dir" "${patches[@]}" >"$dir/node_modules/.lock.sha256"
fi
if ! is_current "$browser"; then
    npm_ci "$browser"
    fingerprint "$browser" >"$browser/node_modules/.lock.sha256"
fi
