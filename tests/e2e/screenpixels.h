#pragma once
// For suites that look at a guest's screen (they link Qt Gui).

#include <QHash>
#include <QImage>

namespace E2e {

// Pixels that differ from the most common colour: a blank screen has none,
// a terminal prompt a few hundred.
inline int nonBackgroundPixels(const QImage &image)
{
    QHash<QRgb, int> counts;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            ++counts[image.pixel(x, y)];
    int most = 0;
    for (int c : std::as_const(counts))
        most = qMax(most, c);
    return image.width() * image.height() - most;
}

} // namespace E2e
