package dev.ollamapatch.image;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.ArchiveReadException;
import dev.ollamapatch.archive.EntryHeader;
import dev.ollamapatch.archive.TarReader;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * An image's root file system as its layers stack up (OCI image specification, "Applying changesets"):
 * each layer read once, in order, as a stream; names only are kept, except for the files that may be
 * Ollama's, which are spooled to disk. {@code .wh.NAME} removes NAME from the layers below,
 * {@code .wh..wh..opq} empties its directory of what the layers below put there, a non-directory
 * replaces a directory's whole subtree, and a hard link shares its target's content.
 */
final class MergedView implements AutoCloseable {
    static final String WHITEOUT = ".wh.";
    static final String OPAQUE = ".wh..wh..opq";
    private static final int MAX_SYMLINKS = 40; // Linux's own limit (MAXSYMLINKS) on links in one path walk

    enum Kind { FILE, DIRECTORY, SYMLINK, OTHER }

    /** One file's content: where it came from, and its spooled copy when it was an ELF file worth a look. */
    static final class Inode {
        final int layer;
        final String firstName;
        final EntryHeader header;
        boolean peeked;       // its first bytes were read (a candidate name, or read again: see spoolAgain)
        Path spool;           // non-null: an ELF file, copied here
        String sha256;        // with spool: the file's SHA-256 (hex), computed as it was copied

        Inode(int layer, String firstName, EntryHeader header, boolean peeked) {
            this.layer = layer;
            this.firstName = firstName;
            this.header = header;
            this.peeked = peeked;
        }
    }

    record Node(Kind kind, EntryHeader header, int layer, String linkTarget, Inode inode) {}

    private final NavigableMap<String, Node> merged = new TreeMap<>();
    private final Path spoolDir;
    private final List<Path> spools = new ArrayList<>();

    MergedView(Path spoolDir) {
        this.spoolDir = spoolDir;
    }

    /** Where Ollama may live: any path with a component named {@code ollama} (bin/ollama, lib/ollama/**, /opt/ollama/...). */
    static boolean candidate(String key) {
        for (String c : key.split("/")) if (c.equals("ollama")) return true;
        return false;
    }

    /**
     * Stacks one layer. {@code raw} is its blob as stored, decompressed with {@code format};
     * {@code where} names the blob in errors. Read failures are invalid input (exit 4).
     */
    void apply(int layer, InputStream raw, ArchiveFormat format, String where) throws IOException {
        NavigableMap<String, Node> upper = new TreeMap<>();
        List<String> whiteouts = new ArrayList<>();
        List<String> opaque = new ArrayList<>();
        try (TarReader in = TarReader.open(raw, format)) {
            for (EntryHeader h = in.next(); h != null; h = in.next()) {
                String entry = where + ": entry " + h.name();
                String name = Names.inside(h.name(), where + ": entry " + h.name());
                if (name.isEmpty()) continue; // the root directory itself
                String base = Names.base(name), dir = Names.parent(name);
                if (base.equals(OPAQUE)) {
                    opaque.add(dir);
                    continue;
                }
                if (base.startsWith(WHITEOUT + WHITEOUT)) continue; // other AUFS metadata, never a file
                if (base.startsWith(WHITEOUT)) {
                    whiteouts.add(Names.join(dir, base.substring(WHITEOUT.length())));
                    continue;
                }
                upper.put(name, node(layer, name, h, in, upper, entry));
            }
        } catch (ArchiveReadException e) {
            // A blob that fails its digest is reported as such, not as the tar entry being read when it ended.
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                if (c instanceof PatchException p) throw p;
            }
            throw new PatchException(PatchException.Kind.INVALID_INPUT, where + ": corrupt layer: " + e.getMessage(), e);
        }
        for (String d : opaque) descendants(d).clear();
        for (String w : whiteouts) {
            merged.remove(w);
            descendants(w).clear();
        }
        for (Map.Entry<String, Node> e : upper.entrySet()) {
            if (e.getValue().kind() != Kind.DIRECTORY) descendants(e.getKey()).clear();
            merged.put(e.getKey(), e.getValue());
        }
    }

    private Node node(int layer, String name, EntryHeader h, TarReader in, Map<String, Node> upper, String entry)
            throws IOException {
        byte type = h.type();
        if (type == TarConstants.LF_DIR) return new Node(Kind.DIRECTORY, h, layer, null, null);
        if (type == TarConstants.LF_SYMLINK) return new Node(Kind.SYMLINK, h, layer, h.linkName(), null);
        if (type == TarConstants.LF_LINK) {
            String target = Names.inside(h.linkName(), entry + ": hard link");
            Node t = upper.containsKey(target) ? upper.get(target) : merged.get(target);
            if (t == null || t.kind() != Kind.FILE) {
                throw Blobs.invalid(entry + ": hard link to " + h.linkName() + ", which the image does not hold as a file");
            }
            return new Node(Kind.FILE, h, layer, null, t.inode());
        }
        if (!h.isRegular()) return new Node(Kind.OTHER, h, layer, null, null);
        boolean peek = candidate(name) && h.size() >= 4;
        Inode inode = new Inode(layer, name, h, peek);
        if (peek) spool(inode, h, in, entry);
        return new Node(Kind.FILE, h, layer, null, inode);
    }

    /** Copies the entry's data to a spool file when it is an ELF file (its first four bytes say so). */
    private void spool(Inode inode, EntryHeader h, TarReader in, String entry) throws IOException {
        byte[] head = new byte[4];
        in.readFully(head, 4);
        if (!(head[0] == 0x7F && head[1] == 'E' && head[2] == 'L' && head[3] == 'F')) return;
        Path spool = Files.createTempFile(spoolDir, ".ollama-patch-layer.", ".tmp");
        spools.add(spool);
        // Hashed on the way: the report's input hash costs no second pass over the file.
        MessageDigest sha = Sha256.digest();
        try (OutputStream s = new DigestOutputStream(Files.newOutputStream(spool), sha)) {
            s.write(head);
            long copied = 4 + in.data().transferTo(s);
            if (copied != h.size()) throw Blobs.invalid(entry + ": truncated layer (entry data ends early)");
        }
        inode.spool = spool;
        inode.sha256 = Blobs.hex(sha.digest());
    }

    /**
     * Reads layer {@code layer} again, as {@link #apply} did, and spools the files of {@code wanted}
     * (inodes whose content that layer holds, by their entry name) that the first read passed over:
     * files of an install reached through a symbolic link to a path without {@code ollama} in it,
     * which the one pass over the layers could not know it would need when the files went past.
     */
    void spoolAgain(InputStream raw, Map<String, Inode> wanted, String where) throws IOException {
        try (TarReader in = TarReader.open(raw, ArchiveFormat.TAR)) {
            for (EntryHeader h = in.next(); h != null; h = in.next()) {
                String entry = where + ": entry " + h.name();
                Inode inode = wanted.get(Names.inside(h.name(), entry));
                // The last entry of a name is the one stacked: an earlier one spooled is replaced.
                if (inode == null || !h.isRegular() || h.size() != inode.header.size()) continue;
                inode.peeked = true;
                inode.spool = null;
                if (h.size() >= 4) spool(inode, h, in, entry);
            }
        } catch (ArchiveReadException e) {
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                if (c instanceof PatchException p) throw p;
            }
            throw new PatchException(PatchException.Kind.INVALID_INPUT, where + ": corrupt layer: " + e.getMessage(), e);
        }
    }

    private NavigableMap<String, Node> descendants(String dir) {
        // '0' follows '/' in ASCII: the range holds exactly the names below dir.
        return dir.isEmpty() ? merged : merged.subMap(dir + "/", true, dir + "0", false);
    }

    Node get(String key) {
        return merged.get(key);
    }

    NavigableMap<String, Node> all() {
        return merged;
    }

    NavigableMap<String, Node> below(String dir) {
        return descendants(dir);
    }

    /**
     * The path {@code key} leads to with every symbolic link followed inside the image: an absolute
     * target starts again at the image's root, and {@code ..} at the root stays there (as in a
     * chroot). Null when a link loops or a component is missing.
     */
    String resolve(String key) {
        List<String> todo = new ArrayList<>(List.of(key.split("/")));
        List<String> done = new ArrayList<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.remove(0);
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) {
                if (!done.isEmpty()) done.remove(done.size() - 1);
                continue;
            }
            done.add(c);
            String path = String.join("/", done);
            Node n = merged.get(path);
            if (n == null) {
                // A layer need not hold its parent directories: a directory exists while something is below it.
                if (below(path).isEmpty()) return null;
                continue;
            }
            if (n.kind() == Kind.SYMLINK) {
                if (++links > MAX_SYMLINKS) return null;
                done.remove(done.size() - 1);
                String target = n.linkTarget();
                if (target.startsWith("/")) done.clear();
                List<String> next = new ArrayList<>(List.of(target.split("/")));
                next.addAll(todo);
                todo = next;
            }
        }
        return String.join("/", done);
    }

    @Override
    public void close() throws IOException {
        for (Path p : spools) Files.deleteIfExists(p);
    }
}
