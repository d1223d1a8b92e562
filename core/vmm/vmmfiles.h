#pragma once

#include "core/expected.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/vmmcredentials.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace Vmm {

// Descriptors this process opened for a VMM to inherit; closed when this
// goes or closeAll() is called (the VMM holds its own copies once started).
class HeldFds final {
    Q_DISABLE_COPY_MOVE(HeldFds)
public:
    HeldFds() = default;
    ~HeldFds() { closeAll(); }
    int keep(int fd)
    {
        m_fds.append(fd);
        return fd;
    }
    void closeAll();

private:
    QList<int> m_fds;
};

// A qcow2 image's backing file, from its header.
struct Qcow2Backing {
    QString path; // absolute (a relative name is resolved against the image's directory)
    QString format = QStringLiteral("raw"); // the header extension's, raw when it has none
};

// Pure: the backing file named by the first bytes of a qcow2 image (the
// header, its extensions and the name, which qemu-img writes into the
// first cluster). Nothing when the image has none; an error when `head` is
// not a qcow2 header or too short to hold the name.
Core::Expected<std::optional<Qcow2Backing>> parseQcow2Backing(const QByteArray &head, const QString &imageDir);

// A listening Unix stream socket at `path`, close-on-exec (VmmProcess clears
// the flag in the child only). Only the owner may connect.
Core::Expected<int> listenOnUnixSocket(const QString &path, int backlog);

// Opens and binds what QEMU needs of `spec` for a QEMU running as `creds`,
// which cannot open our files by path. The kernel and initramfs, read by
// QEMU through /proc/self/fd/N, must be readable by that user (they are
// world-readable in the image cache); nothing else needs any permission.
Core::Expected<QemuCommandLine::PassedFds> openQemuFds(const VmSpec &spec, const VmmCredentials &creds, HeldFds &held);

} // namespace Vmm
