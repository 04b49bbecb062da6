package dev.ollamapatch.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * How one {@link EntryHeader} is laid out as tar records: a ustar header whose every field fits,
 * preceded, when something does not fit, by a PAX extended header this class writes itself.
 *
 * <p>Why not let commons-compress write the PAX headers: the header entry it creates for them takes
 * its user name from the {@code user.name} system property, so the output's bytes would depend on
 * who ran the tool. Here the PAX entry's every field is fixed, and the ustar entry is clamped so the
 * library never needs a PAX header of its own (it is run with long names and big numbers set to fail,
 * which would catch a slip).
 */
final class PaxLayout {
    static final int NAME_MAX = 99;          // ustar name and linkname fields: 100 bytes, < 100 for the library
    static final int OWNER_MAX = 31;         // uname, gname: 32 bytes with a NUL
    static final long ID_MAX = 07777777L;    // uid, gid, devices: 8 octal digits
    static final long TIME_MAX = 077777777777L;
    static final long SIZE_MAX = 077777777777L; // 8 GiB - 1

    /** The records to write first (empty: none needed) and the ustar entry. */
    record Layout(Map<String, String> pax, TarArchiveEntry ustar) {}

    private PaxLayout() {}

    static Layout of(EntryHeader h) {
        Map<String, String> pax = new TreeMap<>(h.extraPax());
        if (h.size() > SIZE_MAX) {
            throw new IllegalArgumentException("entry " + h.name() + " is " + h.size()
                    + " bytes; entries over 8 GiB are not supported");
        }
        String name = fit(pax, "path", h.name(), NAME_MAX);
        String link = fit(pax, "linkpath", h.linkName(), NAME_MAX);
        String uname = fit(pax, "uname", h.uname(), OWNER_MAX);
        String gname = fit(pax, "gname", h.gname(), OWNER_MAX);
        long uid = number(pax, "uid", h.uid(), ID_MAX);
        long gid = number(pax, "gid", h.gid(), ID_MAX);
        int devMajor = (int) number(pax, "SCHILY.devmajor", h.devMajor(), ID_MAX);
        int devMinor = (int) number(pax, "SCHILY.devminor", h.devMinor(), ID_MAX);
        long mtime = time(pax, "mtime", h.mtime(), true);
        time(pax, "atime", h.atime(), false);
        time(pax, "ctime", h.ctime(), false);
        time(pax, "LIBARCHIVE.creationtime", h.birth(), false);

        TarArchiveEntry e = new TarArchiveEntry(name, h.type(), true);
        e.setMode(h.mode());
        e.setUserId(uid);
        e.setGroupId(gid);
        e.setUserName(uname);
        e.setGroupName(gname);
        e.setModTime(FileTime.from(Instant.ofEpochSecond(mtime)));
        e.setLinkName(link);
        e.setSize(h.type() == TarConstants.LF_LINK || h.type() == TarConstants.LF_SYMLINK ? 0 : h.size());
        e.setDevMajor(devMajor);
        e.setDevMinor(devMinor);
        return new Layout(pax, e);
    }

    /** The PAX header entry for {@code records}: fixed owner, mode and a time taken from the entry. */
    static TarArchiveEntry paxEntry(EntryHeader h, long contentSize) {
        String base = EntryNames.key(h.name());
        base = base.substring(base.lastIndexOf('/') + 1);
        String name = truncate("PaxHeaders/" + base, NAME_MAX);
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_PAX_EXTENDED_HEADER_LC, true);
        e.setMode(0100644);
        e.setUserId(0);
        e.setGroupId(0);
        e.setUserName("");
        e.setGroupName("");
        e.setModTime(FileTime.from(Instant.ofEpochSecond(clampTime(h.mtime().toInstant().getEpochSecond()))));
        e.setSize(contentSize);
        return e;
    }

    /** POSIX records: "LEN key=value\n", LEN counting its own digits. */
    static byte[] encode(Map<String, String> records) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        records.forEach((k, v) -> {
            int body = (" " + k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8).length;
            int len = body + Integer.toString(body).length();
            if (Integer.toString(len).length() != Integer.toString(body).length()) len++; // 99 -> 101
            out.writeBytes((len + " " + k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8));
        });
        return out.toByteArray();
    }

    private static String fit(Map<String, String> pax, String key, String value, int max) {
        if (value.getBytes(StandardCharsets.UTF_8).length <= max) return value;
        pax.put(key, value);
        return truncate(value, max);
    }

    private static String truncate(String s, int maxBytes) {
        StringBuilder b = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > maxBytes) break;
            b.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return b.toString();
    }

    private static long number(Map<String, String> pax, String key, long value, long max) {
        if (value >= 0 && value <= max) return value;
        pax.put(key, Long.toString(value));
        return Math.max(0, Math.min(value, max));
    }

    /** Whole seconds in range go in the ustar header; anything finer or wider goes in a record too. */
    private static long time(Map<String, String> pax, String key, FileTime t, boolean inUstar) {
        if (t == null) return 0;
        Instant i = t.toInstant();
        long s = i.getEpochSecond();
        if (!inUstar || i.getNano() != 0 || s < 0 || s > TIME_MAX) {
            pax.put(key, BigDecimal.valueOf(s).add(BigDecimal.valueOf(i.getNano(), 9)).stripTrailingZeros()
                    .toPlainString());
        }
        return clampTime(s);
    }

    private static long clampTime(long s) {
        return Math.max(0, Math.min(s, TIME_MAX));
    }
}
