#include "core/code/codetypes.h"

#include <QJsonArray>

namespace Code {

QString languageName(Language language)
{
    switch (language) {
    case Language::Python: return QStringLiteral("python");
    case Language::JavaScript: return QStringLiteral("javascript");
    case Language::Bash: return QStringLiteral("bash");
    }
    return QString();
}

std::optional<Language> languageFromName(const QString &name)
{
    for (const Language l : {Language::Python, Language::JavaScript, Language::Bash})
        if (languageName(l) == name)
            return l;
    return std::nullopt;
}

QJsonObject CodeResult::toJson() const
{
    QJsonArray outs;
    for (const CodeOutput &o : outputs) {
        QJsonObject entry{{QStringLiteral("type"), o.type}, {QStringLiteral("data"), o.data}};
        if (o.width && o.height) {
            entry[QStringLiteral("width")] = *o.width;
            entry[QStringLiteral("height")] = *o.height;
        }
        outs.append(entry);
    }
    QJsonValue err = QJsonValue::Null;
    if (error)
        err = QJsonObject{{QStringLiteral("name"), error->name},
                          {QStringLiteral("value"), error->value},
                          {QStringLiteral("traceback"), QJsonArray::fromStringList(error->traceback)}};
    return QJsonObject{{QStringLiteral("stdout"), stdoutText},
                       {QStringLiteral("stderr"), stderrText},
                       {QStringLiteral("result"), result ? QJsonValue(*result) : QJsonValue(QJsonValue::Null)},
                       {QStringLiteral("outputs"), outs},
                       {QStringLiteral("error"), err},
                       {QStringLiteral("timed_out"), timedOut},
                       {QStringLiteral("session"), session.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(session)},
                       {QStringLiteral("execution_count"), executionCount ? QJsonValue(*executionCount) : QJsonValue(QJsonValue::Null)},
                       {QStringLiteral("duration_ms"), durationMs}};
}

QJsonObject CodeSession::toJson() const
{
    return QJsonObject{{QStringLiteral("id"), id},
                       {QStringLiteral("language"), language},
                       {QStringLiteral("created_at"), createdAt},
                       {QStringLiteral("executions"), executions},
                       {QStringLiteral("busy"), busy}};
}

} // namespace Code
