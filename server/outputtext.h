#pragma once
// A background process's output as JSON text. The guest keeps bytes and
// reads them by byte offset, so a read may end inside a UTF-8 character (at
// the reply's size cap, or because the process wrote part of it so far).
// The text is cut after the last whole character: a character begun at the
// end and not finished is left for the next read, and the offset to read
// from next is the one after the last whole character. Bytes that are not
// UTF-8 (binary output, a read starting inside a character after older
// output was dropped) come back as U+FFFD; offsets always count the
// guest's bytes, so the text of binary output is lossy and shorter.

#include <QByteArray>
#include <QString>

namespace Server::OutputText {

// The length of data's longest prefix that does not end inside a UTF-8
// character: data's size minus the 1-3 bytes of a character begun at its
// end and not finished. Bytes that no later byte makes text (a stray
// continuation byte, a lead byte UTF-8 never uses) are not held back.
qsizetype wholeCharacters(const QByteArray &data);

struct Chunk {
    QString text;
    quint64 nextOffset = 0; // where the next read starts
};

// data, read up to nextOffset (the guest's offset after it), as text cut
// after its last whole character. When the process has ended and only an
// unfinished character is left, it comes back as it is (nothing will
// finish it).
Chunk cut(const QByteArray &data, quint64 nextOffset, bool processEnded);

} // namespace Server::OutputText
