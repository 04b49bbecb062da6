package dev.ollamapatch.image;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.EntryHeader;
import dev.ollamapatch.archive.EntryNames;
import dev.ollamapatch.archive.TarWriter;
import dev.ollamapatch.elf.EditedCopy;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.install.Manifest;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.io.OutputVerifier;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.Resolver;
import dev.ollamapatch.resolve.SecureExecution;
import dev.ollamapatch.resolve.ShimTargets;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One image's patch: its layers stacked into a merged view, Ollama found in it, each of its files
 * decided as a file would be, and the one new layer written (sorted entries, numeric owners, times
 * and modes of the files they replace: the same input gives the same bytes).
 */
final class PlatformPatch {
    /** The tool's choices for an image. */
    record Options(List<LibraryTarget> libs, Path userShim, boolean force, Path spoolDir, Status status,
                   boolean scan, String tool, BlobCopies copies, String output) {}

    /**
     * A file to patch: its merged-view names (the first is written, the others become hard links to it),
     * and the keys of every file the shim must be added as (each directory its sites' resolutions name).
     */
    private record Patched(List<String> names, EntryHeader header, Path spool, Plan plan, ShimSource shim,
                           String root, ShimCheck.Result check, int layer, List<String> shimKeys) {}

    /** The new layer, once written: its blob file, descriptor and diff_id. */
    record NewLayer(Path file, Blobs.Descriptor descriptor, String diffId, int files, int shims) {}

    private final ImageSource src;
    private final Image image;
    private final Options options;
    private final String label;
    private final List<FileReport> reports;
    private final ShimSource.PerMachine shims;
    private final List<Patched> patched = new ArrayList<>();
    private final java.util.Set<MergedView.Inode> decided = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    int already;

    PlatformPatch(ImageSource src, Image image, Options options, String label, List<FileReport> reports) {
        this.src = src;
        this.image = image;
        this.options = options;
        this.shims = new ShimSource.PerMachine(options.userShim());
        this.label = label;
        this.reports = reports;
    }

    int patchedCount() { return patched.size(); }

    /** Reads the layers and decides every file; with {@code layerOut} non-null, writes the new layer there. */
    NewLayer run(Path layerOut, boolean plainLayer) throws IOException {
        try (MergedView view = new MergedView(options.spoolDir(), keeper())) {
            // Top-down: a layer's files that the layers above it hide or replace are listed, not spooled;
            // below a layer that hides everything under it (an opaque root), no layer is read at all.
            // The layers read are then stacked bottom-up, as the specification applies them.
            List<MergedView.Listing> listings = new ArrayList<>();
            for (int i = image.layers().size() - 1; i >= 0; i--) {
                MergedView.Listing l = list(view, i);
                listings.add(l);
                if (l.hidesEverythingBelow()) break; // layers 0..i-1: copied as they are, never decompressed
                view.above(l);
            }
            for (int k = listings.size() - 1; k >= 0; k--) view.stack(listings.get(k));
            Map<String, TreeSet<String>> roots = OllamaFiles.find(view);
            // Install files the one pass did not read (reached through a symbolic link to a path without
            // "ollama" in it): the layers holding them are read a second time, those files only kept.
            for (Map.Entry<Integer, Map<String, MergedView.Inode>> e : OllamaFiles.unread(view, roots).entrySet()) {
                readAgain(view, e.getKey(), e.getValue());
            }
            int mark = reports.size();
            int restored = 0;
            while (true) {
                try {
                    resolutions = install(view, roots);
                    for (Map.Entry<String, TreeSet<String>> r : roots.entrySet()) {
                        for (String key : r.getValue()) decide(view, r.getKey(), key);
                    }
                    break;
                } catch (ElfStub.NeedsContent n) {
                    // A file kept as a stub is needed whole after all: its layer is read again, the file
                    // kept, and every decision taken again from the start.
                    restored++;
                    reports.subList(mark, reports.size()).clear();
                    patched.clear();
                    decided.clear();
                    already = 0;
                    n.inode.whole = true;
                    readAgain(view, n.inode.layer, Map.of(n.inode.firstName, n.inode));
                } finally {
                    mapped.values().forEach(ElfFile::close);
                    mapped.clear();
                    stubSources.forEach(dev.ollamapatch.elf.ByteSource::close);
                    stubSources.clear();
                }
            }
            last = new Stats(view.droppedFiles(), view.droppedBytes(), view.peakSpooledBytes(), restored,
                    view.readAgainFiles());
            if (Stages.ON) System.err.println("ollama-patch stages: " + label + last);
            if (layerOut == null || patched.isEmpty()) return null;
            // The new layer is compressed as the layer it overrides was (docker save: plain tar, as docker writes).
            ArchiveFormat format = plainLayer ? ArchiveFormat.TAR : image.layers().get(patched.get(0).layer()).format();
            String manifestType = image.manifest() == null ? MediaTypes.DOCKER_MANIFEST
                    : image.manifest().path("mediaType").asText(image.manifestDescriptor().mediaType());
            return write(view, layerOut, format, MediaTypes.layerType(manifestType, format));
        }
    }

    /** What the spools held in the last run (for tests and the benchmark's stage report). */
    record Stats(int droppedFiles, long droppedBytes, long peakSpooledBytes, int restoredFiles, int readAgainFiles) {}

    static volatile Stats last;

    /**
     * Files this large are searched as they are spooled, and let go when they name nothing (a test sets
     * it to Long.MAX_VALUE to compare with every file kept whole).
     */
    static volatile long searchedSize = 1 << 20;

    /**
     * Every string that makes a file matter to the decisions: each library's stem (its sites) and
     * replacement path, the NVML shim's file name (an already patched file), and dlopen and dlmopen
     * (the resolver follows calls to them across the files of an install).
     */
    private Needles needles() {
        java.util.Set<String> n = new java.util.LinkedHashSet<>();
        for (LibraryTarget l : options.libs()) {
            n.add(l.stem());
            n.add(l.defaultPath());
        }
        n.add("/" + dev.ollamapatch.install.Targets.SHIM_FILE);
        n.add("dlopen");
        n.add("dlmopen");
        return new Needles(n);
    }

    private MergedView.Keeper keeper() {
        Needles needles = needles();
        return new MergedView.Keeper() {
            @Override public long minSize() {
                return searchedSize;
            }

            @Override public Needles needles() {
                return needles;
            }

            @Override public ElfStub stub(MergedView.Inode inode, Path spool, long[] written) throws IOException {
                return PlatformPatch.this.stub(inode, spool, written);
            }
        };
    }

    /**
     * The stub of a large ELF file that holds none of the needles, once its own decision is known to be
     * the one a file that names nothing gets (not reported). Any fault, or any other decision, keeps the
     * file whole, so that the decisions meet it where they do today.
     */
    private ElfStub stub(MergedView.Inode inode, Path spool, long[] written) throws IOException {
        Path to = null;
        try (dev.ollamapatch.elf.ByteSource mapped = dev.ollamapatch.elf.ByteSource.map(spool)) {
            // What the resolver reads of every member of an install, as it is built and asked: only from
            // bytes that were written.
            ElfFile elf = ElfFile.parse(ElfStub.guard(mapped, written, inode, false));
            elf.dynamicSymbols();
            elf.relocations();
            elf.dynamic();
            dev.ollamapatch.resolve.Loader.of(elf);
            // Its own decision: the searches for names read the holes as zeros (the bytes that were there
            // held none of the needles, and so none of the names searched for); anything else reads only
            // written bytes.
            Decision d = FileStep.decide(ElfFile.parse(ElfStub.guard(mapped, written, inode, true)),
                    FileStep.Options.scan(new PlanOptions(options.libs(), "/" + Names.parent(inode.firstName), null)));
            if (!(d instanceof Decision.Nothing)) return null;
            to = Files.createTempFile(options.spoolDir(), ".ollama-patch-stub.", ".tmp");
            ElfStub stub = ElfStub.write(elf, spool, written, to);
            if (stub == null) {
                Files.deleteIfExists(to);
                return null;
            }
            // The stub answers what the resolver asks of every member as the file does.
            try (dev.ollamapatch.elf.ByteSource src = stub.open(inode)) {
                ElfFile s = ElfFile.parse(src);
                s.dynamicSymbols();
                s.relocations();
                s.dynamic();
                dev.ollamapatch.resolve.Loader.of(s);
            }
            return stub;
        } catch (RuntimeException e) {
            if (to != null) Files.deleteIfExists(to);
            if (Stages.ON) System.err.println("ollama-patch stages: " + inode.firstName + " kept whole: " + e);
            return null;
        }
    }

    /** Reads layer {@code i}'s entries (see {@link #read}). */
    private MergedView.Listing list(MergedView view, int i) throws IOException {
        MergedView.Listing[] l = new MergedView.Listing[1];
        read(i, (tar, where) -> l[0] = view.list(i, tar, ArchiveFormat.TAR, where));
        return l[0];
    }

    private void readAgain(MergedView view, int i, Map<String, MergedView.Inode> wanted) throws IOException {
        read(i, (tar, where) -> view.spoolAgain(tar, wanted, where));
    }

    /** What is done with a layer's tar stream; {@code where} names the layer in errors. */
    private interface LayerReader {
        void read(InputStream tar, String where) throws IOException;
    }

    /**
     * Hands layer {@code i}'s tar stream to {@code reader}, checking the blob's digest and the diff_id
     * as it streams past. Three stages overlap on their own threads: reading the blob (hashing it, and
     * copying it into the output), decompressing it, and parsing the tar (hashing it, spooling
     * Ollama's files). A plain layer with a descriptor is hashed once: its digest is its diff_id.
     */
    private void read(int i, LayerReader reader) throws IOException {
        Image.Layer layer = image.layers().get(i);
        String where = label + layer.label();
        BlobCopies copies = options.copies();
        InputStream opened = src.open(layer.member(), layer.label());
        String member = src.resolve(layer.member());
        // Into an output layout directory, the blob is a hard link to the input's where it can be (it is
        // checked here as it streams past all the same); else it is copied as it streams past.
        boolean link = copies != null && !copies.done(member) && layer.descriptor() != null
                && copies.link(member, src.file(layer.member()));
        BlobCopies.Tee tee = copies != null && !copies.done(member) && !link
                ? copies.tee(opened, member, src.header(layer.member())) : null;
        InputStream first = tee != null ? tee : opened;
        Blobs.Verifying blob = layer.descriptor() != null ? new Blobs.Verifying(first, layer.descriptor()) : null;
        InputStream stored = blob != null ? blob : first;
        long t0 = System.nanoTime();
        long[] cpu = new long[4]; // per stage: read and hash the blob, decompress, parse, diff_id hash (thread CPU ns)
        Pipe compressed = Pipe.start("ollama-patch read " + layer.label(), out -> {
            long c0 = Stages.threadCpu();
            try (InputStream s = stored) {
                copy(s, out);
                if (blob != null) blob.finish();
                if (tee != null) tee.complete();
                if (link) copies.linked(member);
            } finally {
                cpu[0] = Stages.threadCpu() - c0;
            }
        });
        // The diff_id is hashed on a thread of its own, from the decompressed chunks as they are handed on.
        MessageDigest diff = Sha256.digest();
        Pipe plain = layer.format() == ArchiveFormat.TAR ? compressed
                : Pipe.start("ollama-patch decompress " + layer.label(), out -> {
                    long c0 = Stages.threadCpu();
                    try (InputStream d = layer.format().decompress(compressed)) {
                        copy(d, out);
                        // To the blob's end, whatever the decompressor leaves: the first stage checks
                        // the digest there and completes its copy.
                        compressed.transferTo(java.io.OutputStream.nullOutputStream());
                    } finally {
                        cpu[1] = Stages.threadCpu() - c0;
                    }
                }, diff);
        boolean hashedAsBlob = layer.format() == ArchiveFormat.TAR && blob != null;
        long c0 = Stages.threadCpu();
        try (InputStream c = compressed; InputStream p = plain) {
            InputStream tar = layer.format() != ArchiveFormat.TAR || hashedAsBlob ? p : new DigestInputStream(p, diff);
            reader.read(unclosed(tar), where);
            tar.transferTo(java.io.OutputStream.nullOutputStream());
            cpu[2] = Stages.threadCpu() - c0;
            if (plain != compressed) cpu[3] = plain.awaitHash();
        } catch (IOException e) {
            throw Blobs.invalid(where + ": corrupt layer: " + e.getMessage());
        }
        if (Stages.ON) {
            System.err.printf("ollama-patch stages: %s%s: %.2f s wall; thread CPU: read+blob hash %.2f s, "
                    + "decompress %.2f s, diff_id hash %.2f s, tar+search+spool %.2f s; blob linked: %s%n", label,
                    layer.label(), (System.nanoTime() - t0) / 1e9, cpu[0] / 1e9, cpu[1] / 1e9, cpu[3] / 1e9,
                    cpu[2] / 1e9, link);
        }
        // (The blob's digest was checked when its stream ended, before the one above closed.)
        String actual = hashedAsBlob ? layer.descriptor().digest() : "sha256:" + Blobs.hex(diff.digest());
        if (!actual.equals(layer.diffId())) {
            throw Blobs.invalid(where + ": diff_id mismatch (config says " + layer.diffId() + ", content is "
                    + actual + ")");
        }
    }

    /** Copies {@code in} to {@code out} in large reads (into the pipe's own chunks when it is one). */
    private static void copy(InputStream in, java.io.OutputStream out) throws IOException {
        if (out instanceof Pipe.Sink sink) {
            while (sink.fill(in) >= 0) {
                // read straight into the pipe's chunks
            }
            return;
        }
        byte[] buf = new byte[Pipe.CHUNK];
        int n;
        while ((n = in.read(buf)) >= 0) {
            if (n > 0) out.write(buf, 0, n);
        }
    }

    private static InputStream unclosed(InputStream in) {
        return new FilterInputStream(in) {
            @Override public void close() { }
        };
    }

    /** The ELF files of Ollama's installs in the view, mapped from their spools, by content. */
    private final Map<MergedView.Inode, ElfFile> mapped = new java.util.IdentityHashMap<>();
    private final List<dev.ollamapatch.elf.ByteSource> stubSources = new ArrayList<>();
    private InstallResolutions resolutions;

    /**
     * The ELF files of every install in the view as one install for the resolver (docs/resolution.md), each
     * named by its path in the container and with the set-id bits and capabilities of its layer entry: a
     * library's tail-called dlopen resolves to the program in {@code bin/} that calls it.
     */
    private InstallResolutions install(MergedView view, Map<String, TreeSet<String>> roots) throws IOException {
        List<Resolver.Member> members = new ArrayList<>();
        for (TreeSet<String> keys : roots.values()) {
            for (String key : keys) {
                MergedView.Inode inode = view.get(key).inode();
                if ((inode.spool == null && inode.stub == null) || mapped.containsKey(inode)) continue;
                try {
                    ElfFile elf;
                    if (inode.stub != null) {
                        dev.ollamapatch.elf.ByteSource s = inode.stub.open(inode);
                        stubSources.add(s);
                        elf = ElfFile.parse(s);
                    } else {
                        elf = ElfFile.open(inode.spool);
                    }
                    mapped.put(inode, elf);
                    members.add(new Resolver.Member(Path.of("/" + key), elf,
                            SecureExecution.ofEntry(inode.header.mode(), inode.header.extraPax())));
                } catch (ElfFormatException e) {
                    throw new PatchException(PatchException.Kind.INVALID_INPUT, label + "/" + key + ": ELF: "
                            + e.getMessage() + "; nothing written", e);
                }
            }
        }
        return InstallResolutions.ofMembers(members);
    }

    /**
     * The keys of the files the shim must be added as: every file the sites' resolutions name for
     * {@code key}, the name the resolver knows the file by; for another name of the same content (a hard
     * link), what lies in or below the resolved name's own directory is named again in or below its own.
     */
    private static List<String> shimKeys(Plan plan, String key, List<String> names) {
        java.util.LinkedHashSet<String> keys = new java.util.LinkedHashSet<>();
        Path first = Path.of("/" + key);
        List<Path> targets = ShimTargets.of(plan, first, LibraryTarget.NVML);
        for (Path t : targets) keys.add(Names.key(t.toString().substring(1)));
        for (String other : names) {
            if (other.equals(key)) continue;
            Path dir = Path.of("/" + other).getParent();
            for (Path t : targets) {
                if (t.startsWith(first.getParent())) {
                    keys.add(Names.key(dir.resolve(first.getParent().relativize(t)).normalize().toString().substring(1)));
                }
            }
        }
        return List.copyOf(keys);
    }

    private void decide(MergedView view, String root, String key) throws IOException {
        MergedView.Node node = view.get(key);
        Path spool = node.inode().spool;
        // Not an ELF file, or one that names nothing (a stub: its decision was taken on all its bytes).
        if (spool == null) return;
        // Once per content: a file reached from two installs (a symbolic link) or by a hard link.
        if (!decided.add(node.inode())) return;
        String name = "/" + key;
        List<LibraryTarget> libs = options.libs();
        try {
            ElfFile elf = mapped.get(node.inode());
            Decision d = FileStep.decide(elf, new FileStep.Options(new PlanOptions(libs, "/" + Names.parent(key),
                    resolutions.forFile(Path.of("/" + key))), options.scan() ? null : shims::choose, true));
            if (options.scan()) {
                if (d instanceof Decision.Refused || d instanceof Decision.Planned) {
                    reports.add(d.report(name, Sha256.of(elf.bytes()).hex(), true));
                }
                return;
            }
            if (!(d instanceof Decision.Refused) && !(d instanceof Decision.AlreadyPatched)
                    && !(d instanceof Decision.Planned)) {
                return; // names no library: not reported, as in a scan
            }
            String sha = Sha256.of(elf.bytes()).hex();
            if (d instanceof Decision.Refused r) {
                reports.add(r.report(name, sha, false));
                throw new Refusal(label + name + ": " + r.reason() + "; nothing written");
            }
            if (d instanceof Decision.AlreadyPatched) {
                already++;
                reports.add(d.report(name, sha, false));
                return;
            }
            if (!(d instanceof Decision.Planned planned)) return; // names no library: not reported, as in a scan
            Plan plan = planned.plan();
            ShimSource shim = planned.shim();
            // Every name of this content: a hard link elsewhere must stay the same file.
            List<String> all = new ArrayList<>();
            for (Map.Entry<String, MergedView.Node> e : view.all().entrySet()) {
                if (e.getValue().inode() == node.inode()) all.add(e.getKey());
            }
            boolean nvml = plan.retargets(LibraryTarget.NVML);
            List<String> shimKeys = nvml ? shimKeys(plan, key, all) : List.of();
            if (nvml) {
                for (String shimKey : shimKeys) {
                    MergedView.Node there = view.get(shimKey);
                    if (there != null && !options.force() && !sameShim(there, shim)) {
                        throw new Refusal(label + "/" + shimKey + ": the image already has a file where the shim goes; "
                                + "--force replaces it; nothing written");
                    }
                }
            }
            patched.add(new Patched(all, node.inode().header, spool, plan, nvml ? shim : null, root,
                    planned.shimCheck(), node.inode().layer, shimKeys));
            reports.add(new FileReport(name, sha, plan, null, null, options.status(), planned.shimCheck()));
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, label + name + ": ELF: " + e.getMessage()
                    + "; nothing written", e);
        }
    }

    /** Refused for safety: the apply ends with this line and the reports so far. */
    static final class Refusal extends RuntimeException {
        Refusal(String line) {
            super(line, null, false, false);
        }
    }

    private static boolean sameShim(MergedView.Node there, ShimSource shim) throws IOException {
        MergedView.Inode i = there.inode();
        if (i != null && i.stub != null) {
            if (i.stub.size != shim.bytes().length) return false;
            throw new ElfStub.NeedsContent(i, 0, i.stub.size); // the same size: compared whole, read again
        }
        Path s = there.inode() == null ? null : there.inode().spool;
        return s != null && java.util.Arrays.equals(Files.readAllBytes(s), shim.bytes());
    }

    /** The new layer: patched files, hard links to them, shims, and one manifest per install. */
    private NewLayer write(MergedView view, Path out, ArchiveFormat format, String mediaType) throws IOException {
        TreeMap<String, Object> entries = new TreeMap<>(); // name -> Patched | String (link target) | byte[] (shim/manifest)
        TreeMap<String, EntryHeader> headers = new TreeMap<>();
        Map<String, List<Manifest.FileEntry>> manifests = new TreeMap<>();
        Map<String, List<Manifest.ShimEntry>> manifestShims = new TreeMap<>();
        Map<String, EntryHeader> manifestOwner = new TreeMap<>();
        int shimCount = 0;
        for (Patched p : patched) {
            String first = p.names().get(0);
            EntryHeader h = p.header();
            entries.put(first, p);
            headers.put(first, new EntryHeader(first, TarConstants.LF_NORMAL, h.mode(), h.uid(), h.gid(), "", "",
                    h.mtime(), null, null, null, "", Files.size(p.spool()), 0, 0, h.extraPax()));
            for (String other : p.names().subList(1, p.names().size())) {
                entries.put(other, first);
                headers.put(other, new EntryHeader(other, TarConstants.LF_LINK, h.mode(), h.uid(), h.gid(), "", "",
                        h.mtime(), null, null, null, first, 0, 0, 0, h.extraPax()));
            }
            if (p.shim() != null) {
                byte[] bytes = p.shim().bytes();
                String sha = Blobs.hex(Sha256.digest().digest(bytes));
                for (String shimKey : p.shimKeys()) {
                    if (entries.containsKey(shimKey)) continue;
                    entries.put(shimKey, bytes);
                    headers.put(shimKey, new EntryHeader(shimKey, TarConstants.LF_NORMAL, 0100755, h.uid(), h.gid(),
                            "", "", h.mtime(), null, null, null, "", bytes.length, 0, 0, Map.of()));
                    manifestShims.computeIfAbsent(p.root(), r -> new ArrayList<>())
                            .add(new Manifest.ShimEntry("/" + shimKey, sha, false));
                    shimCount++;
                }
            }
            manifestOwner.putIfAbsent(p.root(), h);
        }
        // Contents are written first (below) so that each manifest can hold the patched hashes.
        Path tmpFiles = Files.createTempDirectory(options.spoolDir(), ".ollama-patch-layer-files.");
        try {
            Map<Patched, String> patchedSha = new HashMap<>();
            Map<Patched, Path> patchedFile = new HashMap<>();
            for (Patched p : patched) {
                Path f = tmpFiles.resolve(Integer.toString(patchedFile.size()));
                try (ElfFile elf = ElfFile.open(p.spool());
                     var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
                             java.nio.file.StandardOpenOption.WRITE)) {
                    EditedCopy.CopyDigests d = EditedCopy.write(elf.bytes(), p.plan().edits(), ch);
                    ch.force(true);
                    // Read back: every byte is the input's except the planned ones (as for a file).
                    OutputVerifier.verify(elf, f, p.plan().edits());
                    patchedSha.put(p, d.outputHex());
                    patchedFile.put(p, f);
                    manifests.computeIfAbsent(p.root(), r -> new ArrayList<>()).add(new Manifest.FileEntry(
                            "/" + p.names().get(0), d.inputHex(), d.outputHex(), null, siteEntries(p.plan())));
                    replaceReport(p, d);
                }
            }
            for (Map.Entry<String, List<Manifest.FileEntry>> m : manifests.entrySet()) {
                String key = Names.join(m.getKey(), ".ollama-patch.json");
                // Paths as the container sees them (absolute, inside its root): format 1, which a
                // verify or restore run inside the container reads as paths under the manifest's directory.
                String shimPath = options.libs().get(0).defaultPath();
                Manifest man = new Manifest(null, options.tool(), null, shimPath, m.getValue(),
                        manifestShims.getOrDefault(m.getKey(), List.of()), shimPath, null);
                byte[] bytes = man.toJson();
                EntryHeader owner = manifestOwner.get(m.getKey());
                entries.put(key, bytes);
                headers.put(key, new EntryHeader(key, TarConstants.LF_NORMAL, 0100644, owner.uid(), owner.gid(), "", "",
                        owner.mtime(), null, null, null, "", bytes.length, 0, 0, Map.of()));
            }
            try (TarWriter w = TarWriter.create(out, format)) {
                for (Map.Entry<String, Object> e : entries.entrySet()) {
                    w.begin(headers.get(e.getKey()));
                    if (e.getValue() instanceof Patched p) {
                        Files.copy(patchedFile.get(p), w.out());
                    } else if (e.getValue() instanceof byte[] b) {
                        w.out().write(b);
                    }
                    w.end();
                }
                w.finish();
            }
        } finally {
            try (var s = Files.list(tmpFiles)) {
                for (Path p : s.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(tmpFiles);
        }
        String blobSha = Sha256.of(out).hex();
        String diffId;
        try (InputStream in = format.decompress(new java.io.BufferedInputStream(Files.newInputStream(out)))) {
            MessageDigest d = Sha256.digest();
            try (DigestInputStream din = new DigestInputStream(in, d)) {
                din.transferTo(java.io.OutputStream.nullOutputStream());
            }
            diffId = "sha256:" + Blobs.hex(d.digest());
        }
        Blobs.Descriptor desc = new Blobs.Descriptor(mediaType, "sha256:" + blobSha, Files.size(out), null);
        return new NewLayer(out, desc, diffId, patched.size(), shimCount);
    }

    /** The report of a written file gets its output hash. */
    private void replaceReport(Patched p, EditedCopy.CopyDigests d) {
        String name = "/" + p.names().get(0);
        for (int i = 0; i < reports.size(); i++) {
            FileReport r = reports.get(i);
            if (r.path().equals(name) && r.plan() == p.plan()) {
                reports.set(i, new FileReport(r.path(), d.inputHex(), r.plan(), options.output(),
                        d.outputHex(), r.status(), r.shim()));
            }
        }
    }

    /** The manifest's record of a plan's retargeted sites, as an in-place apply writes it. */
    private static List<Manifest.SiteEntry> siteEntries(Plan plan) {
        return plan.retargeted().stream().map(p -> new Manifest.SiteEntry(p.site().offset(), p.site().length(),
                p.site().kind().label(), p.site().original(), p.replacementText(),
                p.resolution() == null ? null : p.resolution().how().label(),
                p.shims().isEmpty() ? null : p.shims().stream().map(Path::toString).toList())).toList();
    }

    /** Names of the patched files, for the history entry. */
    List<String> patchedNames() {
        return patched.stream().map(p -> "/" + p.names().get(0)).toList();
    }
}
