#pragma once
// Code execution in a guest (POST /api/v1/vms/{name}/code): the request, the
// result and the sessions, as core types. The guest's mvs-code-runner does
// the work (CodeRunner drives it); these are checked copies of its answers.

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace Code {

enum class Language { Python, JavaScript, Bash };

// "python", "javascript", "bash"
QString languageName(Language language);
std::optional<Language> languageFromName(const QString &name);

struct CodeRequest {
    Language language = Language::Python;
    QString code;
    QString session; // empty: one-shot
    int timeoutMs = 0; // of the code's run, enforced in the guest
};

// A rich output: an image (data base64), HTML, ...
struct CodeOutput {
    QString type; // a MIME type: "image/png", "text/html", ...
    QString data;
    std::optional<int> width;
    std::optional<int> height;
};

struct CodeError {
    QString name; // "SyntaxError", "TimeoutError", "ExitError", ...
    QString value;
    QStringList traceback;
};

struct CodeResult {
    QString stdoutText;
    QString stderrText;
    std::optional<QString> result; // the last expression's value as text
    QList<CodeOutput> outputs;
    std::optional<CodeError> error; // an error in the code, not of the run
    bool timedOut = false;
    QString session; // empty: one-shot
    std::optional<int> executionCount;
    qint64 durationMs = 0;

    QJsonObject toJson() const;
};

struct CodeSession {
    QString id;
    QString language;
    QString createdAt; // ISO 8601, the guest's clock
    int executions = 0;
    bool busy = false;

    QJsonObject toJson() const;
};

} // namespace Code
