#pragma once
// What an API client asks of a VM's display, parsed: the body of
// POST /api/v1/vms/{name}/input and the screenshot's ?scale. Pure: JSON and
// text in, actions in guest pixels (or an InvalidArgument) out.

#include "desktop/inputaction.h"
#include "server/apitypes.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QSize>
#include <QString>

namespace Server {

class InputRequest {
public:
    static constexpr int kMaxActions = 200;
    static constexpr int kMinScaledSide = 16;

    // One action object, or {"actions": [...]}, each optionally with the
    // screenshot's "scale" by which its coordinates are divided.
    static ApiExpected<QList<Desktop::InputAction>> parse(const QByteArray &body);
    // One action object (coordinates divided by scale, a factor in (0, 1]).
    static ApiExpected<Desktop::InputAction> parseAction(const QJsonObject &o, double scale);
    // The screenshot's ?scale: "0.5" (a factor in (0, 1]) or "1024x768"
    // (fit inside, never enlarged): the factor, for a screen of that size.
    static ApiExpected<double> parseScale(const QString &text, QSize screen);
};

} // namespace Server
