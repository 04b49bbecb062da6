package dev.ollamapatch.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything an entry's header says that extraction keeps: the fields copied from input to output
 * and compared between them. The tar dialect (GNU or POSIX magic, long-name records) is not part of
 * it: the output is always written one way.
 *
 * @param type      the tar type flag; a sparse input file becomes a regular file (its data is expanded)
 * @param atime     null when the input did not record one (likewise ctime and birth)
 * @param extraPax  PAX records the tar library does not interpret (xattrs, comments), kept as they are
 */
public record EntryHeader(String name, byte type, int mode, long uid, long gid, String uname, String gname,
                   FileTime mtime, FileTime atime, FileTime ctime, FileTime birth, String linkName, long size,
                   int devMajor, int devMinor, Map<String, String> extraPax) {
    public EntryHeader {
        extraPax = Map.copyOf(extraPax);
    }

    public static EntryHeader of(TarArchiveEntry e) {
        byte type = e.getLinkFlag();
        long size = e.getSize();
        if (e.isSparse()) {
            // The reader hands out the expanded file; it is written back as an ordinary one.
            type = TarConstants.LF_NORMAL;
            size = e.getRealSize();
        } else if (type == TarConstants.LF_OLDNORM) {
            type = TarConstants.LF_NORMAL; // the same thing, spelled the pre-POSIX way
        }
        Map<String, String> extra = new TreeMap<>();
        e.getExtraPaxHeaders().forEach((k, v) -> {
            if (!k.startsWith("GNU.sparse.")) extra.put(k, v);
        });
        return new EntryHeader(e.getName(), type, e.getMode(), e.getLongUserId(), e.getLongGroupId(),
                nonNull(e.getUserName()), nonNull(e.getGroupName()), e.getLastModifiedTime(), e.getLastAccessTime(),
                e.getStatusChangeTime(), e.getCreationTime(), nonNull(e.getLinkName()), size,
                e.getDevMajor(), e.getDevMinor(), extra);
    }

    /** A regular file that carries data: the only kind whose bytes can be an ELF file. */
    public boolean isRegular() {
        return type == TarConstants.LF_NORMAL || type == TarConstants.LF_CONTIG;
    }

    /** The added shim's header: owner, group and time of the patched entry, so it is as reproducible. */
    static EntryHeader shimBeside(EntryHeader patched, String name, long size) {
        return new EntryHeader(name, TarConstants.LF_NORMAL, 0100755, patched.uid, patched.gid, patched.uname,
                patched.gname, patched.mtime, null, null, null, "", size, 0, 0, Map.of());
    }

    public EntryHeader withType(byte t) {
        return new EntryHeader(name, t, mode, uid, gid, uname, gname, mtime, atime, ctime, birth, linkName, size,
                devMajor, devMinor, extraPax);
    }

    /** The first field that differs from {@code other}, as "field: this vs other"; null when they agree. */
    String difference(EntryHeader other) {
        Object[][] fields = {
                {"name", name, other.name}, {"type", (char) type, (char) other.type},
                {"mode", Integer.toOctalString(mode), Integer.toOctalString(other.mode)},
                {"uid", uid, other.uid}, {"gid", gid, other.gid}, {"uname", uname, other.uname},
                {"gname", gname, other.gname}, {"mtime", mtime, other.mtime}, {"atime", atime, other.atime},
                {"ctime", ctime, other.ctime}, {"birth time", birth, other.birth},
                {"link name", linkName, other.linkName}, {"size", size, other.size},
                {"device major", devMajor, other.devMajor}, {"device minor", devMinor, other.devMinor},
                {"PAX records", extraPax, other.extraPax}};
        for (Object[] f : fields) {
            if (!Objects.equals(f[1], f[2])) return f[0] + ": " + f[1] + " vs " + f[2];
        }
        return null;
    }

    private static String nonNull(String s) {
        return s == null ? "" : s;
    }
}
