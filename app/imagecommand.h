#pragma once

#include <QStringList>

namespace App {

// `microvm-sandbox image build [--template NAME]`: build (or find cached) the
// template's guest image, with progress. `image path`: print where it is.
int imageCommand(QStringList args);

} // namespace App
