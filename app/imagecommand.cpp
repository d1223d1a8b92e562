#include "app/imagecommand.h"

#include "app/clioptions.h"
#include "core/image/imagebuilder.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"

#include <QCoreApplication>
#include <QTimer>

#include <cstdio>

namespace App {

int imageCommand(QStringList args)
{
    const QString verb = args.isEmpty() ? QString() : args.takeFirst();
    QString templateName = QStringLiteral("minimal");
    if (auto r = takeOption(args, QStringLiteral("--template"), &templateName); !r) {
        std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(r.error().message));
        return 2;
    }
    if (verb != QLatin1String("build") && verb != QLatin1String("path")) {
        std::fprintf(stderr, "usage: microvm-sandbox image build|path [--template NAME]\n");
        return 2;
    }
    auto tmpl = Templates::VmTemplate::load(templateName);
    if (!tmpl) {
        std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(tmpl.error().message));
        return 2;
    }
    const QString agent = Core::Paths::agentBinary();
    if (verb == QLatin1String("path")) {
        auto img = Image::ImageBuilder::cached(tmpl->image, agent);
        if (!img) {
            std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(img.error().message));
            return 1;
        }
        std::printf("kernel %s\ninitramfs %s\n", qPrintable(img->kernelPath), qPrintable(img->initramfsPath));
        if (!img->rootDiskPath.isEmpty())
            std::printf("rootdisk %s\n", qPrintable(img->rootDiskPath));
        return 0;
    }
    Image::ImageBuilder builder;
    QObject::connect(&builder, &Image::ImageBuilder::progress, &builder,
                     [](const QString &step, int pct) { std::fprintf(stderr, "[image %3d%%] %s\n", pct, qPrintable(step)); });
    int rc = 1;
    // Start inside the event loop: a cached image resolves at once, and an
    // exit() before exec() would be lost.
    QTimer::singleShot(0, &builder, [&]() {
        builder.ensure(tmpl->image, agent).then(&builder, [&rc](const Core::Expected<Image::GuestImage> &img) {
            if (!img) {
                std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(img.error().message));
                rc = 1;
            } else {
                std::printf("image %s\nkernel %s (%s)\ninitramfs %s\n", qPrintable(img->key), qPrintable(img->kernelPath), qPrintable(img->kernelVersion),
                            qPrintable(img->initramfsPath));
                if (!img->rootDiskPath.isEmpty())
                    std::printf("rootdisk %s (shared read-only; each VM writes to its own layer)\n", qPrintable(img->rootDiskPath));
                rc = 0;
            }
            QCoreApplication::exit(rc);
        });
    });
    QCoreApplication::exec();
    return rc;
}

} // namespace App
