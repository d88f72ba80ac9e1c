#!/usr/bin/env bash
# Makes the runner's /dev/kvm usable by the runner user (GitHub's x64 runners have it, root
# only); on a runner without it, says the run will use TCG. faultline proves KVM itself with a
# probe boot and falls back to TCG when it hangs, so nothing here can make a run fail.
# KVM_DEVICE, UDEV_RULES_DIR and SUDO are for testing this script elsewhere.
set -uo pipefail
device=${KVM_DEVICE:-/dev/kvm}
rules=${UDEV_RULES_DIR:-/etc/udev/rules.d}
sudo=${SUDO-sudo}
if [ ! -e "$device" ]; then
  echo "::notice title=faultline::no $device on this runner: guests run under TCG (slower; faultline scales its time limits)"
  exit 0
fi
echo 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"' | $sudo tee "$rules/99-faultline-kvm.rules" > /dev/null
if command -v udevadm > /dev/null; then
  $sudo udevadm control --reload-rules && $sudo udevadm trigger --name-match=kvm
fi
echo "$device: the udev rule makes it usable by this user; faultline probes it before trusting it"
