#pragma once

#include "core/async.h"
#include "core/template/vmtemplate.h"

#include <QObject>

#include <atomic>
#include <memory>

namespace Image {

struct GuestImage {
    QString key; // cache key: sha256 of the recipe, the agent and the builder version
    QString dir; // <cache>/images/<key>
    QString kernelPath; // bzImage
    QString initramfsPath; // uncompressed newc cpio
    QString kernelVersion;
    // "rootfs" images: the shared read-only raw ext4 base (RootfsBuilder);
    // each VM boots from its own writable layer over it. Empty otherwise.
    QString rootDiskPath;
};

// Builds guest images from Debian packages (apt-get download + dpkg-deb -x,
// never installed) into the user's cache, keyed by the recipe: a second call
// with the same recipe and agent returns the cached image at once. Builds run
// on a worker thread, report progress, can be cancelled, and are atomic: a
// build that fails or is interrupted leaves nothing behind that looks built.
// A "rootfs" recipe also gets a root disk (RootfsBuilder, cached on its own
// key without the agent) and an initramfs that mounts it.
class ImageBuilder final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ImageBuilder)
public:
    // Bump when the layout or the init changes: every cached image is rebuilt.
    static constexpr int kBuilderVersion = 4;
    static constexpr int kLockTimeoutMs = 15 * 60 * 1000; // another process building the same image
    static constexpr int kToolTimeoutMs = 10 * 60 * 1000; // one apt-get / dpkg-deb run

    explicit ImageBuilder(QObject *parent = nullptr);
    ~ImageBuilder() override;

    // Where the guest finds the code runner (mvs-code-runner, a Python
    // script built into this binary): every image has it, bind-mounted into
    // a root disk at boot like the agent, so a new runner costs no disk rebuild.
    static constexpr const char *kCodeRunnerGuestPath = "/usr/local/bin/mvs-code-runner";
    static QByteArray codeRunner();

    // Where built images live (under the cache directory).
    static QString imagesDir();
    static Core::Expected<QString> cacheKey(const Templates::ImageRecipe &recipe, const QString &agentBinary);
    // The cached image for this recipe, if it was built.
    static Core::Expected<GuestImage> cached(const Templates::ImageRecipe &recipe, const QString &agentBinary);

    Core::Future<GuestImage> ensure(const Templates::ImageRecipe &recipe, const QString &agentBinary);
    void cancel() { *m_cancel = true; }

Q_SIGNALS:
    void progress(const QString &step, int percent);

private:
    // Shared with the worker thread, which may outlive this object.
    std::shared_ptr<std::atomic<bool>> m_cancel = std::make_shared<std::atomic<bool>>(false);
};

} // namespace Image
