package dev.ollamapatch.image;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.ArchiveReadException;
import dev.ollamapatch.archive.EntryHeader;
import dev.ollamapatch.archive.TarReader;
import dev.ollamapatch.report.PatchException;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
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
        ElfStub stub;         // non-null (spool null): an ELF file that names nothing, its tables kept here
        boolean whole;        // keep all of it when it is read again (a stub was not enough)

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
    private final Keeper keeper;
    private Path reusable; // the spool of a large file being searched; emptied and used again when it names nothing
    private long spooledBytes, peakSpooledBytes, droppedBytes;
    private int droppedFiles;

    /**
     * Which large ELF files are kept whole. Each candidate ELF file is spooled; one of at least
     * {@link #minSize()} bytes is searched for {@link #needles()} as it is copied, and when none is in
     * it, {@link #stub} may let it go, keeping only its tables (the spool is then emptied and used
     * for the next such file, so that the files that name nothing never fill the disk or page cache).
     */
    interface Keeper {
        long minSize();

        Needles needles();

        /**
         * The stub of the ELF file spooled at {@code spool} (no needle in it; the bytes of {@code written}
         * are there, the rest are holes), or null when its decision needs more of it.
         */
        ElfStub stub(Inode inode, Path spool, long[] written) throws IOException;
    }

    MergedView(Path spoolDir) {
        this(spoolDir, null);
    }

    MergedView(Path spoolDir, Keeper keeper) {
        this.spoolDir = spoolDir;
        this.keeper = keeper;
    }

    /** The most bytes the spools held at once (files kept whole, stubs, and the file being searched). */
    long peakSpooledBytes() {
        return peakSpooledBytes;
    }

    /** Files let go after the search (their stubs kept), and their bytes. */
    int droppedFiles() {
        return droppedFiles;
    }

    long droppedBytes() {
        return droppedBytes;
    }

    /** Where Ollama may live: any path with a component named {@code ollama} (bin/ollama, lib/ollama/**, /opt/ollama/...). */
    static boolean candidate(String key) {
        for (String c : key.split("/")) if (c.equals("ollama")) return true;
        return false;
    }

    /**
     * One layer's entries as read, in tar order, before they are stacked: what it holds (with the
     * content of the regular files that may be Ollama's spooled), whites out and makes opaque.
     */
    static final class Listing {
        final int layer;
        final String where;
        private final List<Object[]> entries = new ArrayList<>(); // {name, header, inode (regular files) or null}
        private final List<String> whiteouts = new ArrayList<>();
        private final List<String> opaque = new ArrayList<>();
        private boolean linksOutside; // a hard link to a name this layer does not hold before it as a file

        private Listing(int layer, String where) {
            this.layer = layer;
            this.where = where;
        }

        /**
         * True when no layer below this one can change the merged view: its root directory is opaque
         * ({@code .wh..wh..opq} at the top), so everything the layers below hold is hidden, and none of
         * its hard links reaches below it (one that did would keep a lower file's content).
         */
        boolean hidesEverythingBelow() {
            return opaque.contains("") && !linksOutside;
        }
    }

    /** What the layers above the one being read hide or replace (read top-down; see {@link #above}). */
    private final java.util.Set<String> replacedAbove = new java.util.HashSet<>(); // names held or whited out above
    private final java.util.Set<String> hiddenBelowAbove = new java.util.HashSet<>(); // names whose subtree is hidden

    /**
     * Notes a layer read top-down (before the layers below it are read): their files that it hides
     * or replaces are then listed but not spooled, since they cannot be in the merged view (a hard
     * link to one keeps its content, which {@link OllamaFiles#unread} then finds unread).
     */
    void above(Listing l) {
        for (Object[] e : l.entries) {
            String name = (String) e[0];
            replacedAbove.add(name);
            if (((EntryHeader) e[1]).type() != TarConstants.LF_DIR) hiddenBelowAbove.add(name);
        }
        replacedAbove.addAll(l.whiteouts);
        hiddenBelowAbove.addAll(l.whiteouts);
        hiddenBelowAbove.addAll(l.opaque);
    }

    /** Whether the layers noted with {@link #above} hide or replace {@code name} of a layer below them. */
    private boolean hiddenAbove(String name) {
        if (replacedAbove.contains(name)) return true;
        for (String d = Names.parent(name); ; d = Names.parent(d)) {
            if (hiddenBelowAbove.contains(d)) return true;
            if (d.isEmpty()) return false;
        }
    }

    /**
     * Reads one layer's entries. {@code raw} is its blob as stored, decompressed with {@code format};
     * {@code where} names the blob in errors. Read failures are invalid input (exit 4).
     */
    Listing list(int layer, InputStream raw, ArchiveFormat format, String where) throws IOException {
        Listing l = new Listing(layer, where);
        java.util.Set<String> files = new java.util.HashSet<>();
        try (TarReader in = TarReader.open(raw, format)) {
            for (EntryHeader h = in.next(); h != null; h = in.next()) {
                String entry = where + ": entry " + h.name();
                String name = Names.inside(h.name(), where + ": entry " + h.name());
                if (name.isEmpty()) continue; // the root directory itself
                String base = Names.base(name), dir = Names.parent(name);
                if (base.equals(OPAQUE)) {
                    l.opaque.add(dir);
                    continue;
                }
                if (base.startsWith(WHITEOUT + WHITEOUT)) continue; // other AUFS metadata, never a file
                if (base.startsWith(WHITEOUT)) {
                    l.whiteouts.add(Names.join(dir, base.substring(WHITEOUT.length())));
                    continue;
                }
                Inode inode = null;
                if (h.type() == TarConstants.LF_LINK) {
                    if (!files.contains(Names.inside(h.linkName(), entry + ": hard link"))) l.linksOutside = true;
                } else if (h.type() != TarConstants.LF_DIR && h.type() != TarConstants.LF_SYMLINK && h.isRegular()) {
                    boolean peek = candidate(name) && h.size() >= 4 && !hiddenAbove(name);
                    inode = new Inode(layer, name, h, peek);
                    if (peek) spool(inode, h, in, entry);
                    files.add(name);
                }
                l.entries.add(new Object[]{name, h, inode});
            }
        } catch (ArchiveReadException e) {
            // A blob that fails its digest is reported as such, not as the tar entry being read when it ended.
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                if (c instanceof PatchException p) throw p;
            }
            throw new PatchException(PatchException.Kind.INVALID_INPUT, where + ": corrupt layer: " + e.getMessage(), e);
        }
        return l;
    }

    /** Stacks one layer on the layers stacked before it (the layer below it first). */
    void stack(Listing l) {
        NavigableMap<String, Node> upper = new TreeMap<>();
        for (Object[] e : l.entries) {
            String name = (String) e[0];
            upper.put(name, node(l.layer, name, (EntryHeader) e[1], (Inode) e[2], upper, l.where + ": entry "
                    + ((EntryHeader) e[1]).name()));
        }
        for (String d : l.opaque) descendants(d).clear();
        for (String w : l.whiteouts) {
            merged.remove(w);
            descendants(w).clear();
        }
        for (Map.Entry<String, Node> e : upper.entrySet()) {
            if (e.getValue().kind() != Kind.DIRECTORY) descendants(e.getKey()).clear();
            merged.put(e.getKey(), e.getValue());
        }
    }

    /** Reads and stacks one layer on those stacked before it (bottom-up). */
    void apply(int layer, InputStream raw, ArchiveFormat format, String where) throws IOException {
        stack(list(layer, raw, format, where));
    }

    private Node node(int layer, String name, EntryHeader h, Inode inode, Map<String, Node> upper, String entry) {
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
        if (inode == null) return new Node(Kind.OTHER, h, layer, null, null);
        return new Node(Kind.FILE, h, layer, null, inode);
    }

    /**
     * Copies the entry's data to a spool file when it is an ELF file (its first four bytes say so). A
     * large one is searched on the way (see {@link Keeper}); one that names nothing is let go.
     */
    private void spool(Inode inode, EntryHeader h, TarReader in, String entry) throws IOException {
        byte[] head = new byte[4];
        in.readFully(head, 4);
        if (!(head[0] == 0x7F && head[1] == 'E' && head[2] == 'L' && head[3] == 'F')) return;
        // Not searched: small files, and Ollama's program itself (bin/ollama), which is there to be patched.
        boolean searched = keeper != null && !inode.whole && h.size() >= keeper.minSize()
                && !Names.base(inode.firstName).equals("ollama");
        if (!searched) {
            Path spool = Files.createTempFile(spoolDir, ".ollama-patch-layer.", ".tmp");
            spools.add(spool);
            try (FileChannel ch = FileChannel.open(spool, StandardOpenOption.WRITE)) {
                long copied = copy(head, in.data(), ch, null, null);
                if (copied != h.size()) throw Blobs.invalid(entry + ": truncated layer (entry data ends early)");
                spooledBytes += copied;
                peakSpooledBytes = Math.max(peakSpooledBytes, spooledBytes);
            }
            inode.spool = spool;
            return;
        }
        if (reusable == null) {
            reusable = Files.createTempFile(spoolDir, ".ollama-patch-layer.", ".tmp");
            spools.add(reusable);
        }
        Path spool = reusable;
        Needles.Search search = keeper.needles().search();
        SparseSpool sparse;
        long copied;
        try (FileChannel ch = FileChannel.open(spool, StandardOpenOption.READ, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            sparse = new SparseSpool(ch);
            copied = copy(head, in.data(), ch, search, sparse);
            if (copied != h.size()) throw Blobs.invalid(entry + ": truncated layer (entry data ends early)");
            sparse.finish();
        }
        long[] written = sparse.written();
        long writtenBytes = 0;
        for (int i = 0; i < written.length; i += 2) writtenBytes += written[i + 1] - written[i];
        peakSpooledBytes = Math.max(peakSpooledBytes, spooledBytes + writtenBytes);
        ElfStub stub = search.found() ? null : keeper.stub(inode, spool, written);
        if (stub != null) {
            spools.add(stub.file);
            inode.stub = stub;
            spooledBytes += stub.keptBytes();
            peakSpooledBytes = Math.max(peakSpooledBytes, spooledBytes);
            droppedFiles++;
            droppedBytes += copied;
            empty(spool);
        } else if (sparse.skipped()) {
            // Needed whole (it names something, or its decision reads what was left out): it is read
            // again from its layer, with the install's other files not read in this pass (OllamaFiles.unread).
            inode.whole = true;
            inode.peeked = false;
            readAgainFiles++;
            empty(spool);
        } else {
            reusable = null; // it is this file's now
            spooledBytes += copied;
            inode.spool = spool;
        }
    }

    private int readAgainFiles;

    /** Files that had to be read again whole after their bytes were left out. */
    int readAgainFiles() {
        return readAgainFiles;
    }

    private static void empty(Path spool) throws IOException {
        try (FileChannel ch = FileChannel.open(spool, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
    }

    /** Copies the entry's data after its first four bytes, {@code head}; searched and sparse when those are given. */
    private static long copy(byte[] head, InputStream data, FileChannel ch, Needles.Search search, SparseSpool sparse)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(COPY);
        byte[] b = buf.array();
        System.arraycopy(head, 0, b, 0, 4);
        int n = 4;
        long copied = 0;
        while (true) {
            int r = n < b.length ? data.read(b, n, b.length - n) : 0;
            if (r > 0) n += r;
            if (n == b.length || (r < 0 && n > 0)) {
                if (search != null && !search.found()) {
                    search.feed(b, 0, n);
                    if (search.found() && sparse != null) sparse.keepAll();
                }
                if (sparse != null) {
                    sparse.write(b, 0, n);
                } else {
                    buf.clear().limit(n);
                    while (buf.hasRemaining()) ch.write(buf);
                }
                copied += n;
                n = 0;
            }
            if (r < 0) break;
        }
        return copied;
    }

    private static final int COPY = 1 << 20;

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
                inode.stub = null;
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
