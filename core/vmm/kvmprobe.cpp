#include "core/vmm/kvmprobe.h"

#include <QElapsedTimer>
#include <QThread>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/kvm.h>
#include <mutex>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace Vmm {
namespace {

enum ProbeExit { Ok = 0, NoDevice = 10, NoAccess, BadApi, NoVm, NoMemory, NoVcpu, NoRun, NotHalted, BadMsr };

// VMMs program the vCPU's feature MSRs from the host's values (QEMU does it
// for every CPU model). Broken nested KVM refuses some: catch that here.
bool featureMsrsRoundTrip(int kvm, int vcpu)
{
    constexpr __u32 kMaxMsrs = 256;
    alignas(8) unsigned char listBuf[sizeof(kvm_msr_list) + kMaxMsrs * sizeof(__u32)] = {};
    auto *list = reinterpret_cast<kvm_msr_list *>(listBuf);
    list->nmsrs = kMaxMsrs;
    if (::ioctl(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, list) < 0)
        return true; // old kernels have no feature MSRs: nothing to check
    for (__u32 i = 0; i < list->nmsrs && i < kMaxMsrs; ++i) {
        alignas(8) unsigned char msrBuf[sizeof(kvm_msrs) + sizeof(kvm_msr_entry)] = {};
        auto *msrs = reinterpret_cast<kvm_msrs *>(msrBuf);
        msrs->nmsrs = 1;
        msrs->entries[0].index = list->indices[i];
        if (::ioctl(kvm, KVM_GET_MSRS, msrs) != 1)
            continue;
        if (::ioctl(vcpu, KVM_SET_MSRS, msrs) != 1)
            return false;
    }
    return true;
}

// 2 MiB of guest RAM at 0: page tables at 0x2000..0x4fff identity-map
// it with one 2 MiB page; code at 0 writes a marker through paging and halts.
constexpr size_t kMemSize = 0x200000;
constexpr size_t kMarkerAddress = 0x5000;
constexpr __u32 kMarker = 0x12345678;

// The child's steps below exit with a ProbeExit code when they fail.

// The guest RAM with its code and page tables, registered with the VM.
unsigned char *setUpGuestMemory(int vm)
{
    auto *mem = static_cast<unsigned char *>(::mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED)
        ::_exit(NoMemory);
    const unsigned char code[] = {
        0xc7, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, // mov dword [0x5000], 0x12345678
        0xf4, // hlt
    };
    std::memcpy(mem, code, sizeof code);
    auto *pml4 = reinterpret_cast<__u64 *>(mem + 0x2000);
    auto *pdpt = reinterpret_cast<__u64 *>(mem + 0x3000);
    auto *pd = reinterpret_cast<__u64 *>(mem + 0x4000);
    constexpr __u64 kPresent = 1, kRw = 2, kUser = 4, kHuge = 0x80;
    pml4[0] = kPresent | kRw | kUser | 0x3000;
    pdpt[0] = kPresent | kRw | kUser | 0x4000;
    pd[0] = kPresent | kRw | kUser | kHuge;
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = kMemSize;
    region.userspace_addr = reinterpret_cast<__u64>(mem);
    if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        ::_exit(NoMemory);
    return mem;
}

// Long mode with paging, as every 64-bit kernel runs.
void enterLongMode(int vcpu)
{
    kvm_sregs sregs{};
    if (::ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        ::_exit(NoVcpu);
    sregs.cr3 = 0x2000;
    sregs.cr4 = 0x20; // PAE
    sregs.cr0 = 0x1 | 0x2 | 0x10 | 0x20 | 0x10000 | 0x40000 | 0x80000000u; // PE MP ET NE WP AM PG
    sregs.efer = 0x100 | 0x400; // LME LMA
    kvm_segment seg{};
    seg.base = 0;
    seg.limit = 0xffffffff;
    seg.selector = 1 << 3;
    seg.present = 1;
    seg.type = 11; // code: execute/read, accessed
    seg.s = 1;
    seg.l = 1;
    seg.g = 1;
    sregs.cs = seg;
    seg.type = 3; // data: read/write, accessed
    seg.selector = 2 << 3;
    seg.l = 0;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
    if (::ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        ::_exit(NoVcpu);
    kvm_regs regs{};
    regs.rip = 0;
    regs.rsp = kMemSize;
    regs.rflags = 0x2;
    if (::ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        ::_exit(NoVcpu);
}

struct Vcpu {
    int fd;
    kvm_run *run;
};

// The vcpu and its mapped kvm_run, with the host's feature MSRs accepted.
Vcpu createVcpu(int kvm, int vm)
{
    const int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        ::_exit(NoVcpu);
    const int runSize = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (runSize <= 0)
        ::_exit(NoVcpu);
    auto *run = static_cast<kvm_run *>(::mmap(nullptr, static_cast<size_t>(runSize), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
    if (run == MAP_FAILED)
        ::_exit(NoVcpu);
    if (!featureMsrsRoundTrip(kvm, vcpu))
        ::_exit(BadMsr);
    return {vcpu, run};
}

// Runs in the forked child: only raw syscalls, exits with a ProbeExit code.
[[noreturn]] void probeChild()
{
    const int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        ::_exit(errno == ENOENT ? NoDevice : NoAccess);
    if (::ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        ::_exit(BadApi);
    const int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        ::_exit(NoVm);
    unsigned char *mem = setUpGuestMemory(vm);
    const Vcpu vcpu = createVcpu(kvm, vm);
    enterLongMode(vcpu.fd);
    if (::ioctl(vcpu.fd, KVM_RUN, 0) < 0)
        ::_exit(NoRun);
    __u32 marker = 0;
    std::memcpy(&marker, mem + kMarkerAddress, sizeof marker);
    ::_exit(vcpu.run->exit_reason == KVM_EXIT_HLT && marker == kMarker ? Ok : NotHalted);
}

KvmStatus probe()
{
    if (::access("/dev/kvm", F_OK) != 0)
        return {false, QStringLiteral("/dev/kvm does not exist (no KVM on this host)")};
    const pid_t pid = ::fork();
    if (pid < 0)
        return {false, QStringLiteral("cannot fork the KVM probe: %1").arg(QString::fromLocal8Bit(std::strerror(errno)))};
    if (pid == 0)
        probeChild();

    QElapsedTimer timer;
    timer.start();
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return {false, QStringLiteral("the KVM probe vanished")};
        if (timer.elapsed() > kKvmProbeTimeoutMs) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return {false, QStringLiteral("/dev/kvm is present but a test vCPU never ran (nested virtualization without hardware support)")};
        }
        QThread::msleep(5);
    }
    if (!WIFEXITED(status))
        return {false, QStringLiteral("the KVM probe crashed")};
    switch (WEXITSTATUS(status)) {
    case Ok: return {true, QString()};
    case NoDevice: return {false, QStringLiteral("/dev/kvm does not exist (no KVM on this host)")};
    case NoAccess: return {false, QStringLiteral("/dev/kvm cannot be opened (add the user to the kvm group)")};
    case BadApi: return {false, QStringLiteral("/dev/kvm speaks an unexpected KVM API version")};
    case NoVm: return {false, QStringLiteral("/dev/kvm refuses to create a VM (virtualization disabled or nested without support)")};
    case BadMsr: return {false, QStringLiteral("/dev/kvm refuses the host's own CPU feature MSRs (broken nested virtualization)")};
    case NotHalted: return {false, QStringLiteral("/dev/kvm ran a test vCPU but it did not behave (broken nested KVM)")};
    default: return {false, QStringLiteral("/dev/kvm cannot run a test vCPU (code %1)").arg(WEXITSTATUS(status))};
    }
}

} // namespace

KvmStatus kvmStatus()
{
    static std::once_flag once;
    static KvmStatus status;
    std::call_once(once, [] { status = probe(); });
    return status;
}

bool kvmUsable()
{
    return kvmStatus().usable;
}

} // namespace Vmm
