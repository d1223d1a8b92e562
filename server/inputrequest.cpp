#include "server/inputrequest.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QStringList>

#include <cmath>
#include <optional>

namespace Server {
namespace {

using Desktop::InputAction;

ApiError invalid(const QString &message)
{
    return ApiError(ApiError::Code::InvalidArgument, message);
}

std::optional<int> intField(const QJsonObject &o, const QString &key, bool *present, std::optional<ApiError> *error)
{
    const QJsonValue v = o.value(key);
    *present = !v.isUndefined();
    if (!*present)
        return std::nullopt;
    const double d = v.toDouble(std::nan(""));
    if (!v.isDouble() || !std::isfinite(d) || std::fabs(d) > 1e6) {
        *error = invalid(QStringLiteral("field '%1' must be a number").arg(key));
        return std::nullopt;
    }
    return static_cast<int>(std::lround(d));
}

} // namespace

ApiExpected<QList<InputAction>> InputRequest::parse(const QByteArray &requestBody)
{
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(requestBody, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject())
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be a JSON object: one action, or {\"actions\": [...]}"));
    QJsonObject body = doc.object();
    double scale = 1.0;
    if (body.contains(QStringLiteral("scale"))) {
        scale = body.take(QStringLiteral("scale")).toDouble(0);
        if (!(scale > 0) || scale > 1)
            return invalid(QStringLiteral("field 'scale' must be the screenshot's scale, a number in (0, 1]"));
    }
    QJsonArray list;
    if (body.contains(QStringLiteral("actions"))) {
        if (body.size() != 1 || !body.value(QStringLiteral("actions")).isArray())
            return invalid(QStringLiteral("'actions' must be an array of action objects (with 'scale' the only other field)"));
        list = body.value(QStringLiteral("actions")).toArray();
    } else {
        list.append(body);
    }
    if (list.isEmpty() || list.size() > kMaxActions)
        return invalid(QStringLiteral("give 1 to %1 actions").arg(kMaxActions));
    QList<InputAction> actions;
    for (qsizetype i = 0; i < list.size(); ++i) {
        if (!list.at(i).isObject())
            return invalid(QStringLiteral("action %1 is not an object").arg(i));
        auto a = parseAction(list.at(i).toObject(), scale);
        if (!a) {
            ApiError e = a.error();
            if (list.size() > 1)
                e.message = QStringLiteral("action %1: %2").arg(i).arg(e.message);
            return e;
        }
        actions << *a;
    }
    return actions;
}

ApiExpected<double> InputRequest::parseScale(const QString &text, QSize screen)
{
    if (text.contains(QLatin1Char('x'))) {
        const QStringList wh = text.split(QLatin1Char('x'));
        bool okW = false;
        bool okH = false;
        const int w = wh.value(0).toInt(&okW);
        const int h = wh.value(1).toInt(&okH);
        if (wh.size() != 2 || !okW || !okH || w < kMinScaledSide || h < kMinScaledSide)
            return invalid(QStringLiteral("'scale' must be a factor in (0, 1] or a maximum size WIDTHxHEIGHT (each at least %1)").arg(kMinScaledSide));
        return qMin(1.0, qMin(double(w) / screen.width(), double(h) / screen.height()));
    }
    bool ok = false;
    const double f = text.toDouble(&ok);
    if (!ok || !(f > 0) || f > 1)
        return invalid(QStringLiteral("'scale' must be a factor in (0, 1] or a maximum size WIDTHxHEIGHT"));
    return f;
}

ApiExpected<InputAction> InputRequest::parseAction(const QJsonObject &o, double scale)
{
    static const QStringList fields{QStringLiteral("action"), QStringLiteral("x"),      QStringLiteral("y"),     QStringLiteral("to_x"),
                                    QStringLiteral("to_y"),   QStringLiteral("button"), QStringLiteral("count"), QStringLiteral("dx"),
                                    QStringLiteral("dy"),     QStringLiteral("text"),   QStringLiteral("keys")};
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!fields.contains(it.key()))
            return invalid(QStringLiteral("unknown field '%1' in an input action (fields: %2)").arg(it.key().left(64), fields.join(QStringLiteral(", "))));
    }
    const QString action = o.value(QStringLiteral("action")).toString();
    static const QHash<QString, InputAction::Kind> kinds{
        {QStringLiteral("move"), InputAction::Kind::Move}, {QStringLiteral("click"), InputAction::Kind::Click},
        {QStringLiteral("drag"), InputAction::Kind::Drag}, {QStringLiteral("scroll"), InputAction::Kind::Scroll},
        {QStringLiteral("type"), InputAction::Kind::Type}, {QStringLiteral("key"), InputAction::Kind::Key}};
    if (!kinds.contains(action))
        return invalid(QStringLiteral("field 'action' must be one of move, click, drag, scroll, type, key"));
    InputAction a;
    a.kind = kinds.value(action);
    std::optional<ApiError> error;
    bool hasX = false;
    bool hasY = false;
    bool hasToX = false;
    bool hasToY = false;
    bool present = false;
    const auto x = intField(o, QStringLiteral("x"), &hasX, &error);
    const auto y = intField(o, QStringLiteral("y"), &hasY, &error);
    const auto toX = intField(o, QStringLiteral("to_x"), &hasToX, &error);
    const auto toY = intField(o, QStringLiteral("to_y"), &hasToY, &error);
    const auto count = intField(o, QStringLiteral("count"), &present, &error);
    const auto dx = intField(o, QStringLiteral("dx"), &present, &error);
    const auto dy = intField(o, QStringLiteral("dy"), &present, &error);
    if (error)
        return *error;
    if (hasX != hasY)
        return invalid(QStringLiteral("'x' and 'y' go together"));
    auto unscale = [scale](int v) { return int(std::lround(v / scale)); };
    a.hasPoint = hasX;
    if (hasX)
        a.point = QPoint(unscale(*x), unscale(*y));
    if (o.contains(QStringLiteral("button")) && !Desktop::parseButton(o.value(QStringLiteral("button")).toString(), &a.button))
        return invalid(QStringLiteral("field 'button' must be left, middle or right"));
    switch (a.kind) {
    case InputAction::Kind::Move:
        if (!hasX)
            return invalid(QStringLiteral("move needs 'x' and 'y'"));
        break;
    case InputAction::Kind::Click: a.count = count.value_or(1); break;
    case InputAction::Kind::Drag:
        if (!hasX || !hasToX || !hasToY)
            return invalid(QStringLiteral("drag needs 'x', 'y', 'to_x' and 'to_y'"));
        a.to = QPoint(unscale(*toX), unscale(*toY));
        break;
    case InputAction::Kind::Scroll:
        a.scrollX = dx.value_or(0);
        a.scrollY = dy.value_or(0);
        break;
    case InputAction::Kind::Type:
        if (!o.value(QStringLiteral("text")).isString())
            return invalid(QStringLiteral("type needs 'text' (a string)"));
        a.text = o.value(QStringLiteral("text")).toString();
        break;
    case InputAction::Kind::Key:
        if (!o.value(QStringLiteral("keys")).isString())
            return invalid(QStringLiteral("key needs 'keys' (a string such as \"ctrl+alt+t\" or \"Return\")"));
        a.text = o.value(QStringLiteral("keys")).toString();
        break;
    }
    return a;
}

} // namespace Server
