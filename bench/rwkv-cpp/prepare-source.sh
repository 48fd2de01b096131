#!/usr/bin/env bash
# Makes an rwkv.cpp source tree from two git mirrors, with ggml at the commit rwkv.cpp pins
# as its submodule. Third-party code is only exported (git archive) into OUTDIR; nothing is
# written into either mirror or into our repository.
#
#   bench/rwkv-cpp/prepare-source.sh MIRROR_RWKV MIRROR_GGML OUTDIR
#
# MIRROR_RWKV / MIRROR_GGML: a bare git dir, a non-bare clone, or a folder holding `repo/`
# (the layout of /work/.mirror/<owner>+<name>/repo). RWKV_CPP_REV picks the rwkv.cpp
# revision (default HEAD). When OUTDIR already holds this exact pair of commits it is
# reused; otherwise it is replaced.
set -euo pipefail

usage() {
  echo "usage: $0 MIRROR_RWKV MIRROR_GGML OUTDIR" >&2
  exit 2
}
[[ $# -eq 3 ]] || usage

# Prints the git dir of a mirror given as a bare repo, a clone, or a folder holding repo/.
git_dir_of() {
  local d=$1
  for cand in "$d" "$d/repo" "$d/.git"; do
    if [[ -d "$cand" ]] && git --git-dir="$cand" rev-parse --git-dir >/dev/null 2>&1; then
      (cd "$cand" && pwd)
      return 0
    fi
  done
  echo "not a git repository (bare, clone, or a folder with repo/): $d" >&2
  return 1
}

rwkv_git=$(git_dir_of "$1")
ggml_git=$(git_dir_of "$2")
out=$3
rev=${RWKV_CPP_REV:-HEAD}

rwkv_commit=$(git --git-dir="$rwkv_git" rev-parse --verify "${rev}^{commit}")
ggml_commit=$(git --git-dir="$rwkv_git" ls-tree "$rwkv_commit" ggml | awk '$2 == "commit" { print $3 }')
if [[ -z "$ggml_commit" ]]; then
  echo "rwkv.cpp $rwkv_commit has no ggml submodule entry (git ls-tree $rwkv_commit ggml)" >&2
  exit 1
fi
if ! git --git-dir="$ggml_git" cat-file -e "${ggml_commit}^{commit}" 2>/dev/null; then
  echo "ggml mirror $ggml_git lacks the pinned commit $ggml_commit; fetch a newer ggml mirror" >&2
  exit 1
fi

stamp="rwkv.cpp $rwkv_commit
ggml $ggml_commit"
if [[ -f "$out/.rwkv-streams-source" ]] && [[ "$(cat "$out/.rwkv-streams-source")" == "$stamp" ]]; then
  echo "reusing $out ($rwkv_commit, ggml $ggml_commit)" >&2
  exit 0
fi

parent=$(dirname -- "$out")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.rwkv-cpp-src.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Exports a commit's tree into a folder. A mirror may lack the blobs of its largest files
# (e.g. rwkv.cpp's tests/tiny-rwkv-6v0-3m-*.bin); those paths are left out and listed.
export_tree() {
  local git_dir=$1 commit=$2 into=$3
  local -a excludes=()
  local path
  while IFS= read -r path; do
    [[ -n "$path" ]] || continue
    echo "  (absent from the mirror, left out: $path)" >&2
    excludes+=(":(exclude,literal)$path")
  done < <(git --git-dir="$git_dir" ls-tree -r "$commit" |
    awk -F'\t' '{ split($1, f, " "); if (f[2] == "blob") print f[3] "\t" $2 }' |
    while IFS=$'\t' read -r hash p; do
      git --git-dir="$git_dir" cat-file -e "$hash" 2>/dev/null || printf '%s\n' "$p"
    done)
  mkdir -p "$into"
  # git archive still complains about the left-out blobs on stderr (exit status 0): keep
  # its messages for when it fails.
  local log
  log=$(mktemp)
  if ! git --git-dir="$git_dir" archive --format=tar "$commit" -- . "${excludes[@]}" 2>"$log" |
    tar -x -C "$into"; then
    cat "$log" >&2
    rm -f "$log"
    echo "git archive of $commit from $git_dir failed" >&2
    return 1
  fi
  rm -f "$log"
}

export_tree "$rwkv_git" "$rwkv_commit" "$tmp"
rm -rf "$tmp/ggml"
export_tree "$ggml_git" "$ggml_commit" "$tmp/ggml"
printf '%s\n' "$stamp" >"$tmp/.rwkv-streams-source"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "prepared $out (rwkv.cpp $rwkv_commit, ggml $ggml_commit)" >&2
