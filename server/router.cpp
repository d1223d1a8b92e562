#include "server/router.h"

#include <QUrl>

namespace Server {

bool Route::match(const QStringList &path, QHash<QString, QString> *params) const
{
    // A last segment "{*rest}" takes one or more segments (never "." or "..").
    const bool prefix = !segments.isEmpty() && segments.last().startsWith(QLatin1String("{*"));
    if (prefix ? path.size() < segments.size() : path.size() != segments.size())
        return false;
    QHash<QString, QString> found;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const QString &s = segments.at(i);
        if (prefix && i == segments.size() - 1) {
            const QStringList rest = path.mid(i);
            for (const QString &part : rest) {
                if (part.isEmpty() || part == QLatin1String(".") || part == QLatin1String("..") || part.contains(QLatin1Char('/')))
                    return false;
            }
            found.insert(s.mid(2, s.size() - 3), rest.join(QLatin1Char('/')));
            break;
        }
        if (s.startsWith(QLatin1Char('{')) && s.endsWith(QLatin1Char('}'))) {
            if (path.at(i).isEmpty())
                return false;
            found.insert(s.mid(1, s.size() - 2), path.at(i));
        } else if (s != path.at(i)) {
            return false;
        }
    }
    if (params)
        *params = std::move(found);
    return true;
}

Route &Router::add(const QByteArray &method, const QString &pattern, Handler handler, RouteFlags flags)
{
    Route r;
    static_cast<RouteFlags &>(r) = flags;
    r.method = method;
    r.pattern = pattern;
    r.segments = pattern.split(QLatin1Char('/'));
    r.handler = std::move(handler);
    m_routes.push_back(std::move(r));
    return m_routes.back();
}

Router::Match Router::find(const QByteArray &method, const QStringList &path) const
{
    Match m;
    for (const Route &r : m_routes) {
        if (!r.match(path, r.method == method ? &m.params : nullptr))
            continue;
        if (r.method == method) {
            m.route = &r;
            m.allowed.clear();
            return m;
        }
        m.allowed.append(r.method);
    }
    return m;
}

QStringList Router::pathSegments(const QByteArray &encodedPath)
{
    QStringList out;
    for (const QByteArray &part : encodedPath.split('/'))
        out << QUrl::fromPercentEncoding(part);
    return out;
}

} // namespace Server
