# Sourced on the GPU machine from the repository root: unpacks what pack.sh carried
# (whichever of .gpu/carry/{base,ort,shared,dist,apps} came along) and puts node on PATH.
mkdir -p /tmp/node-bin
xz -dc .gpu/carry/base/node.xz > /tmp/node-bin/node && chmod +x /tmp/node-bin/node
export PATH=/tmp/node-bin:$PATH
tar -xJf .gpu/carry/base/node_modules.tar.xz
[ -f .gpu/carry/ort/ort.tar.xz ] && tar -xJf .gpu/carry/ort/ort.tar.xz
[ -f .gpu/carry/dist/dist.tar.xz ] && tar -xJf .gpu/carry/dist/dist.tar.xz
[ -f .gpu/carry/apps/apps.tar.xz ] && tar -xJf .gpu/carry/apps/apps.tar.xz
if [ -f .gpu/carry/shared/shared.tar.xz ]; then
  mkdir -p /tmp/shared-copy && tar -xJf .gpu/carry/shared/shared.tar.xz -C /tmp/shared-copy
  export RWKV_STREAMS_SHARED_DIR=/tmp/shared-copy/shared
fi
echo "node $(node --version) on $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
