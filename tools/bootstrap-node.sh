#!/usr/bin/env bash
# Installs the pinned npm packages of hosts/node (jco and preview2-shim, exact versions from
# hosts/node/package-lock.json) into hosts/node/node_modules with `npm ci`, then applies
# hosts/node/patches/*.patch in name order. Each patch names its package and version in a
# `Package: <name>@<version>` line; it is applied with `patch -p1` in that package's
# directory, without fuzz, so a patch that no longer applies exactly fails the bootstrap
# instead of landing somewhere else. Idempotent: does nothing when the lock file and the
# patches are unchanged since the last install and every patch is still applied. Needs
# Node.js >= 20 and GNU patch.
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hosts/node" && pwd)
stamp=$dir/node_modules/.lock.sha256
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

# The lock file and the patches: a change to either reinstalls from scratch, so a patch is
# always applied to the pristine package.
wanted=$(cat "$dir/package-lock.json" "${patches[@]}" | sha256sum | cut -d' ' -f1)
if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]] || ! all_applied; then
    echo "bootstrap-node: installing hosts/node/package-lock.json (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    apply_patches
    echo "$wanted" >"$stamp"
fi
