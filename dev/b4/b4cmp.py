#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Helper of b4-check.sh (standard library only).

  b4cmp.py cover COVER.patch OUTDIR
      Reads a `git format-patch --cover-letter` cover letter and writes, in
      OUTDIR: cover.txt (b4's cover form: subject line, blank line, blurb),
      prefixes (e.g. "RFC"), revision (e.g. "10"), base (base-commit or
      empty). The blurb is the body before git's shortlog/diffstat.

  b4cmp.py compare PATCHDIR SERIES B4DIR
      Compares the mails `b4 send -o B4DIR` wrote with the files of PATCHDIR
      named by SERIES (cover letter: PATCHDIR/0000-cover-letter.patch).
      Mail headers are ignored except the subject (compared without its
      [...] prefix; prefixes are reported) and the recipients: a patch's
      To:/Cc: must be its To:/Cc: headers plus its Cc: trailers, the
      cover's its headers (the sender's copy aside). Per patch it compares
      the commit message and the diff exactly; the diffstat is reported, not compared
      (its layout depends on the tool). b4's additions are stripped and
      reported: the in-body "From:" line that b4 adds when the sender is not
      the author, git's version signature ("-- \\n2.x"), and, in the cover,
      the change-id:/base-commit:/prerequisite-*: lines and "Best regards".
      Exit status 1 if any patch (commit message, diff or recipients) or the
      cover's subject/blurb/recipients differs.
"""
import difflib
import email
import email.policy
import email.utils
import glob
import os
import re
import sys

PREFIX_RE = re.compile(r'^\s*\[([^\]]*)\]\s*')
SIG_RE = re.compile(r'\n-- \n(\d+(?:\.\d+)+[^\n]*)\n?$')
# b4's "utility basement" of the cover letter, and what b4 may add as trailers
B4_LINE_RE = re.compile(
    r'^(change-id|base-commit|prerequisite-(patch-id|change-id|message-id|base-commit)):',
    re.I)
SHORTLOG_HDR_RE = re.compile(r'^\S.* \(\d+\):$')
DIFFSTAT_RE = re.compile(r'^ .*\|\s+(\d+|Bin)|^ \d+ files? changed')


def read_mail(path):
    with open(path, 'rb') as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    subj = ' '.join(str(msg.get('Subject', '')).split())
    payload = msg.get_payload(decode=True)
    body = payload.decode(msg.get_content_charset() or 'utf-8')
    body = body.replace('\r\n', '\n')
    return msg, subj, body


def header_addrs(msg):
    """The To: and Cc: addresses of a mail, lower case, but its sender's
    (b4 and git send-email send the sender a copy)."""
    pairs = email.utils.getaddresses([str(v) for h in ('To', 'Cc')
                                      for v in msg.get_all(h, [])])
    sender = email.utils.parseaddr(str(msg.get('From', '')))[1].lower()
    return {a.lower() for _n, a in pairs if a and a.lower() != sender}


def trailer_addrs(text):
    """The addresses of the Cc: trailers of a commit message."""
    return {email.utils.parseaddr(ln[4:])[1].lower()
            for ln in text.split('\n') if ln.startswith('Cc: ')}


def series_recipients(cover_path):
    """The To:/Cc: headers that format-patch put on every patch (those of the
    first one): the series-wide recipients, which b4 keeps as trailers of
    its cover letter."""
    first = sorted(glob.glob(os.path.join(os.path.dirname(cover_path), '0001-*.patch')))
    if not first:
        return []
    msg, _s, _b = read_mail(first[0])
    out = []
    for h in ('To', 'Cc'):
        for v in msg.get_all(h, []):
            for name, addr in email.utils.getaddresses([str(v)]):
                out.append('%s: %s' % (h, email.utils.formataddr((name, addr))))
    return out


def split_subject(subj):
    m = PREFIX_RE.match(subj)
    if not m:
        return '', subj
    return m.group(1), subj[m.end():]


def counter_of(prefix):
    m = re.search(r'(\d+)/(\d+)', prefix)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def strip_sig(body):
    """Drops git's "-- \\n<version>" signature and, with it, the blank line
    that b4 puts before it (b4 appends "\\n-- \\n<git version>\\n" to the
    output of git show, which already ends in a newline). A diff cannot end
    in an empty line, so that blank line is never part of the patch."""
    m = SIG_RE.search(body)
    if m:
        body = body[:m.start()] + '\n'
        if body.endswith('\n\n'):
            body = body[:-1]
        return body, m.group(1)
    return body, None


STAT_RE = re.compile(r'^ (\S.*?)\s+\|\s+(\d+|Bin.*?)(?: [+-]*)?$')


def stat_entries(stat):
    """(path, count) of a diffstat, and its summary line; paths shortened
    by git to ".../tail" are kept as the tail"""
    entries, summary = [], None
    for line in stat.split('\n'):
        m = STAT_RE.match(line)
        if m:
            path = m.group(1)
            if path.startswith('.../'):
                path = path[3:]
            entries.append((path, m.group(2)))
        elif re.match(r'^ \d+ files? changed', line):
            summary = line.strip()
    return entries, summary


def same_stat(a, b):
    ea, sa = stat_entries(a)
    eb, sb = stat_entries(b)
    if sa != sb or len(ea) != len(eb):
        return False
    for (pa, ca), (pb, cb) in zip(ea, eb):
        if ca != cb or not (pa.endswith(pb) or pb.endswith(pa)):
            return False
    return True


def split_patch(body):
    """commit message, diffstat section, diff, in-body From, signature.

    The commit message ends at the "---" line that introduces the diffstat
    (or, without a diffstat, the diff): an earlier "---" line is part of
    what the file says, and a reader (git am) that cuts there loses the rest,
    which is what the comparison must show."""
    inbody_from = None
    m = re.match(r'From: ([^\n]*)\n\n', body)
    if m:
        inbody_from = m.group(1)
        body = body[m.end():]
    body, sig = strip_sig(body)
    dpos = body.find('\ndiff --git ')
    head = body[:dpos + 1] if dpos >= 0 else body
    diff = body[dpos + 1:] if dpos >= 0 else ''
    lines = head.split('\n')
    cut = None
    for i, line in enumerate(lines):
        if line != '---':
            continue
        rest = [x for x in lines[i + 1:] if x.strip()]
        if all(DIFFSTAT_RE.match(x) or x.startswith(' create mode ') or
               x.startswith(' delete mode ') or x.startswith(' rename ') or
               x.startswith(' mode change ') or x.startswith(' copy ')
               for x in rest):
            cut = i
            break
    if cut is None:
        return head, '', diff, inbody_from, sig
    msgpart = '\n'.join(lines[:cut]) + '\n'
    stat = '\n'.join(lines[cut + 1:])
    return msgpart, stat, diff, inbody_from, sig


def show_diff(a, b, name_a, name_b, limit=40):
    out = list(difflib.unified_diff(a.splitlines(), b.splitlines(), name_a,
                                    name_b, lineterm='', n=1))
    for line in out[:limit]:
        print('      ' + line)
    if len(out) > limit:
        print('      ... (%d more lines)' % (len(out) - limit))


def cover_parts(body):
    """blurb, shortlog+diffstat, base-commit of a git format-patch cover"""
    lines = body.rstrip('\n').split('\n')
    base = None
    for line in lines:
        m = re.match(r'^base-commit: ([0-9a-f]{7,40})$', line)
        if m:
            base = m.group(1)
    # the shortlog starts at the last "Author (N):" line block that is
    # followed only by shortlog lines, blank lines, a diffstat and trailers
    start = None
    for i, line in enumerate(lines):
        if not SHORTLOG_HDR_RE.match(line):
            continue
        if i + 1 < len(lines) and lines[i + 1].startswith('  '):
            ok = True
            for rest in lines[i:]:
                if not (rest == '' or rest.startswith(' ') or
                        SHORTLOG_HDR_RE.match(rest) or
                        re.match(r'^(base-commit|prerequisite-[a-z-]+): ', rest)):
                    ok = False
                    break
            if ok:
                start = i
                break
    if start is None:
        return body.strip('\n'), '', base
    blurb = '\n'.join(lines[:start]).strip('\n')
    tail = '\n'.join(lines[start:])
    return blurb, tail, base


def cmd_cover(cover_path, outdir):
    _msg, subj, body = read_mail(cover_path)
    prefix, subject = split_subject(subj)
    toks = prefix.split()
    rev = '1'
    prefixes = []
    for t in toks:
        if re.fullmatch(r'[vV]\d+', t):
            rev = t[1:]
        elif re.fullmatch(r'\d+/\d+', t) or t.upper() == 'PATCH':
            continue
        else:
            prefixes.append(t)
    blurb, _tail, base = cover_parts(body)
    bad = [ln for ln in blurb.split('\n') if ln.startswith('#')]
    if bad:
        # b4 drops lines starting with '#' from the cover; it keeps '>#'
        print('b4cmp: cover lines starting with "#" escaped as ">#" for b4: %d'
              % len(bad), file=sys.stderr)
        blurb = re.sub(r'^#', '>#', blurb, flags=re.M)
    os.makedirs(outdir, exist_ok=True)
    # The series-wide recipients as the cover's trailers, where b4 keeps
    # them (it sends every mail to them; each patch also to its own Cc:
    # trailers, and the cover to all).
    recipients = series_recipients(cover_path)
    with open(os.path.join(outdir, 'cover.txt'), 'w') as fh:
        fh.write(subject + '\n\n' + blurb + '\n')
        if recipients:
            fh.write('\n' + '\n'.join(recipients) + '\n')
    with open(os.path.join(outdir, 'prefixes'), 'w') as fh:
        fh.write(' '.join(prefixes) + '\n')
    with open(os.path.join(outdir, 'revision'), 'w') as fh:
        fh.write(rev + '\n')
    with open(os.path.join(outdir, 'base'), 'w') as fh:
        fh.write((base or '') + '\n')
    return 0


def cmd_compare(patchdir, series, b4dir):
    names = [ln.strip() for ln in open(series) if ln.strip()]
    names = [n for n in names if not n.startswith('0000-cover-letter')]
    b4mails = {}
    for fn in sorted(os.listdir(b4dir)):
        path = os.path.join(b4dir, fn)
        msg, subj, body = read_mail(path)
        prefix, subject = split_subject(subj)
        n, total = counter_of(prefix)
        b4mails[n] = (fn, msg, prefix, subject, body, total)
    fail = 0
    notes = set()
    print('b4 wrote %d mails; series has %d patches + cover letter'
          % (len(b4mails), len(names)))
    if len(b4mails) != len(names) + 1:
        print('  FAIL: mail count differs')
        fail = 1

    # cover letter
    cpath = os.path.join(patchdir, '0000-cover-letter.patch')
    if 0 in b4mails and os.path.exists(cpath):
        _m, osubj, obody = read_mail(cpath)
        fn, msg, prefix, subject, body, _t = b4mails[0]
        oprefix, osubject = split_subject(osubj)
        oblurb, otail, obase = cover_parts(obody)
        body_nosig, _ = body, None
        sigpos = body.rfind('\n-- \n')
        if sigpos >= 0:
            body_nosig = body[:sigpos + 1]
        sections = re.split(r'^---\n', body_nosig, flags=re.M)
        bblurb = sections[0].strip('\n')
        blines = [ln for s in sections[1:] for ln in s.split('\n')]
        bbase = None
        b4lines = []
        for ln in blines:
            if B4_LINE_RE.match(ln):
                b4lines.append(ln)
                m = re.match(r'base-commit: (\S+)', ln)
                if m:
                    bbase = m.group(1)
        ok = (subject == osubject and bblurb == oblurb)
        print('  00 cover: %s  [%s] vs ours [%s]'
              % ('same subject and blurb' if ok else 'DIFFERS', prefix, oprefix))
        if subject != osubject:
            print('    subject: b4 %r, ours %r' % (subject, osubject))
        if bblurb != oblurb:
            show_diff(oblurb, bblurb, 'ours', 'b4')
        if not ok:
            fail = 1
        if obase and bbase and not (bbase.startswith(obase) or obase.startswith(bbase)):
            print('    base-commit: b4 %s, ours %s  FAIL' % (bbase, obase))
            fail = 1
        else:
            print('    base-commit: b4 %s, ours %s' % (bbase, obase))
        for ln in b4lines:
            if not ln.startswith('base-commit:'):
                print('    b4 adds: %s' % ln)
        bto, oto = header_addrs(msg), header_addrs(_m)
        if bto != oto:
            print('    recipients: FAIL: b4 sends the cover to %d, ours has %d; '
                  'only b4: %s; only ours: %s' % (len(bto), len(oto),
                                                  sorted(bto - oto), sorted(oto - bto)))
            fail = 1
        else:
            print('    recipients: the same %d' % len(bto))
        if 'Best regards,' in body:
            notes.add('cover: b4 ends the cover with "Best regards," and a '
                      '"-- " signature with the sender (b4 template)')
        # shortlog/diffstat: git's vs b4's
        bshort = '\n'.join(sections[1:2]).strip('\n') if len(sections) > 1 else ''
        if bshort.split() != otail.split('base-commit:')[0].split():
            notes.add('cover: b4\'s shortlog/diffstat text differs from '
                      'format-patch\'s (layout)')
    else:
        print('  FAIL: no cover letter (b4 or ours)')
        fail = 1

    for i, name in enumerate(names, 1):
        path = os.path.join(patchdir, name)
        if i not in b4mails:
            print('  %02d FAIL: b4 wrote no mail %d/%d' % (i, i, len(names)))
            fail = 1
            continue
        _m, osubj, obody = read_mail(path)
        fn, msg, prefix, subject, body, total = b4mails[i]
        oprefix, osubject = split_subject(osubj)
        omsg, ostat, odiff, _ofrom, _osig = split_patch(obody)
        bmsg, bstat, bdiff, bfrom, bsig = split_patch(body)
        problems = []
        if subject != osubject:
            problems.append('subject')
        if bmsg != omsg:
            problems.append('commit message')
        if bdiff != odiff:
            problems.append('diff')
        # b4 sends a patch to the series-wide recipients and its own Cc:
        # trailers; format-patch put the former in the patch's headers.
        brcpt, orcpt = header_addrs(msg), header_addrs(_m) | trailer_addrs(omsg)
        if brcpt != orcpt:
            problems.append('recipients')
        extras = ['%d recipients' % len(brcpt)]
        if prefix != oprefix:
            extras.append('prefix [%s] vs ours [%s]' % (prefix, oprefix))
        oauthor = _ofrom or str(_m.get('From'))
        bauthor = bfrom or str(msg.get('From'))
        if bfrom:
            extras.append('in-body From: %s' % bfrom)
        if bauthor != oauthor:
            problems.append('author')
        if bsig:
            notes.add('patches: b4 appends git\'s signature "-- \\n%s" '
                      '(ours: format-patch --no-signature)' % bsig)
        if bstat != ostat:
            if same_stat(ostat, bstat):
                notes.add('patches: diffstat layout differs (b4 uses git show '
                          '--patch-with-stat: 80 columns, no "create mode" '
                          'lines; ours: format-patch, 72 columns, --summary), '
                          'same files and counts')
            else:
                extras.append('diffstat layout differs')
        status = 'FAIL: ' + ', '.join(problems) + ' differ' if problems else 'same'
        print('  %02d %s: %s%s' % (i, name, status,
                                   ('  (' + '; '.join(extras) + ')') if extras else ''))
        if 'author' in problems:
            print('    author: b4 %r, ours %r' % (bauthor, oauthor))
        if 'recipients' in problems:
            print('    recipients: only b4: %s; only ours: %s'
                  % (sorted(brcpt - orcpt), sorted(orcpt - brcpt)))
        if 'subject' in problems:
            print('    subject: b4 %r, ours %r' % (subject, osubject))
        if 'commit message' in problems:
            show_diff(omsg, bmsg, 'ours', 'b4')
        if 'diff' in problems:
            show_diff(odiff, bdiff, 'ours', 'b4')
        if 'diffstat layout differs' in extras:
            show_diff(ostat, bstat, 'ours', 'b4', limit=12)
        if problems:
            fail = 1
    for n in sorted(notes):
        print('  note: ' + n)
    print('compare: %s' % ('FAIL' if fail else
                           'OK (commit messages, diffs and recipients equal)'))
    return fail


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'cover':
        return cmd_cover(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 5 and sys.argv[1] == 'compare':
        return cmd_compare(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
