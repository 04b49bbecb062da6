package dev.ollamapatch.archive;

import dev.ollamapatch.install.Identities;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ByteEdit;
import dev.ollamapatch.elf.EditedCopy;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.ShimCheck;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One streaming pass over an archive: every entry is read once, in order; an ELF entry is spooled to
 * a temporary file (mapped, never held in the heap), planned exactly as a file would be, and written
 * patched with the shim added right after it; every other entry is copied straight through. With no
 * writer (scan, dry run) the same decisions are made and nothing is written.
 */
final class ArchivePatcher {
    private static final int MAGIC = ElfConstants.SELFMAG;

    /**
     * @param libs       libraries to retarget, NVML first
     * @param userShim   --shim, or null for the bundled shim of each entry's machine
     * @param prefix     absolute directory the archive is extracted under (glob sites need it)
     * @param force      replace an existing entry where the shim goes
     * @param spoolDir   where ELF entries are spooled (the output's directory: same file system, no tmpfs limits)
     * @param output     the output archive's name, for reports; null when nothing is written
     * @param status     the report status of an entry with work: PATCHED or PLANNED
     * @param scan       only report what each ELF entry holds (no shim, no refusals)
     */
    record Options(List<LibraryTarget> libs, Path userShim, String prefix, boolean force, Path spoolDir,
                   String output, Status status, boolean scan) {}

    enum Action { COPIED, PATCHED, DROPPED }

    /** What became of one input entry; the verifier walks these against both archives. */
    record Outcome(EntryHeader input, Action action, List<ByteEdit> edits, ShimAdded shim) {}

    /** The shim entry added after a patched entry, and the SHA-256 of its bytes. */
    record ShimAdded(EntryHeader header, String sha256) {}

    /**
     * How the pass ended.
     *
     * @param refusal  why the archive is refused (the whole line for the user), or null
     * @param replace  keys of earlier entries where a shim goes, which --force replaces: a stream cannot
     *                 take back what it wrote, so the pass went on to the end without writing, to find
     *                 them all, and one more pass drops them ({@link Prior}); empty when the pass is complete
     * @param decided  what this pass decided for each ELF entry, for that next pass
     */
    record Result(List<Outcome> entries, List<FileReport> reports, int patched, int alreadyPatched, int shims,
                  String refusal, Set<String> replace, Prior decided) {
        boolean complete() { return refusal == null && replace.isEmpty(); }
    }

    /**
     * What an earlier pass over the same archive decided, by the entry's ordinal in the stream: the
     * pass that drops the entries a shim replaces takes these instead of finding the sites again.
     */
    record Prior(Map<Integer, Decided> byOrdinal) {
        static final Prior NONE = new Prior(Map.of());
    }

    /** One ELF entry's decision and identity. */
    record Decided(Decision decision, Identity identity) {}

    private final Path archive;
    private final Options options;
    private final TarReader in;
    /** Null when nothing is written, and from the first entry --force must take back (see {@link Result#replace}). */
    private TarWriter out;
    private final Progress progress;
    private final Set<String> replace;
    private final Prior prior;
    private final Map<Integer, Decided> decided = new HashMap<>();
    /** The ordinal of the entry being read, in the input's order. */
    private int ordinal = -1;
    private final List<Outcome> outcomes = new ArrayList<>();
    private final List<FileReport> reports;
    private final Set<String> seen = new HashSet<>();
    private final Set<String> shimsAdded = new HashSet<>();
    private final ShimSource.PerMachine shims;
    private int patched, already;
    /** Set when the pass must stop: see {@link Result}. */
    private String refusal;
    private final Set<String> replaceEarlier = new java.util.LinkedHashSet<>();

    private ArchivePatcher(Path archive, Options options, TarReader in, TarWriter out, Progress progress,
                           Set<String> replace, Prior prior, List<FileReport> reports) {
        this.archive = archive;
        this.options = options;
        this.shims = new ShimSource.PerMachine(options.userShim());
        this.in = in;
        this.out = out;
        this.progress = progress;
        this.replace = replace;
        this.prior = prior;
        this.reports = reports;
    }

    /**
     * Runs the pass, up to the end or to the entry that refuses the archive. The result holds each ELF
     * entry's report up to there. {@code replace}: keys of existing entries to drop, and {@code prior}
     * what the pass that found them decided (see {@link Result#replace}); empty and {@link Prior#NONE}
     * for a first pass.
     */
    static Result run(Path archive, ArchiveFormat format, TarWriter out, Options options, Progress progress,
                      Set<String> replace, Prior prior) throws IOException {
        try (TarReader in = TarReader.open(archive, format, progress)) {
            ArchivePatcher p = new ArchivePatcher(archive, options, in, out, progress, replace, prior, new ArrayList<>());
            p.entries();
            return new Result(List.copyOf(p.outcomes), List.copyOf(p.reports), p.patched, p.already,
                    p.shimsAdded.size(), p.refusal, Set.copyOf(p.replaceEarlier), new Prior(Map.copyOf(p.decided)));
        }
    }

    private void entries() throws IOException {
        byte[] head = new byte[MAGIC];
        for (EntryHeader h = in.next(); h != null; h = in.next()) {
            ordinal++;
            entry(h, head);
            if (refusal != null) return;
        }
    }

    /** Keys of the symbolic link entries seen so far: nothing may be written below one. */
    private final Set<String> symlinks = new java.util.HashSet<>();

    private void entry(EntryHeader h, byte[] head) throws IOException {
        progress.entry(h.name());
        String key = EntryNames.key(h.name());
        EntryNames.checkInside(archive, h.name(), key, symlinks);
        if (h.type() == org.apache.commons.compress.archivers.tar.TarConstants.LF_SYMLINK) symlinks.add(key);
        if (shimsAdded.contains(key) || replace.contains(key)) {
            if (options.force()) {
                outcomes.add(new Outcome(h, Action.DROPPED, List.of(), null));
            } else {
                refusal = shimConflict(h.name());
            }
            return;
        }
        seen.add(key);
        if (h.isRegular() && h.size() >= MAGIC) {
            in.readFully(head, MAGIC);
            if (ElfConstants.hasElfMagic(head)) {
                elfEntry(h, head);
                return;
            }
            copy(h, head);
        } else {
            copy(h, null);
        }
    }

    private void copy(EntryHeader h, byte[] head) throws IOException {
        outcomes.add(new Outcome(h, Action.COPIED, List.of(), null));
        if (out == null) return;
        out.begin(h);
        if (head != null) out.out().write(head);
        out.copy(in.data());
        end(h);
    }

    private void end(EntryHeader h) throws IOException {
        try {
            out.end();
        } catch (IOException e) {
            // The library counts the bytes: fewer than the header's size means the input ended early.
            throw new ArchiveReadException("entry " + h.name(), "truncated archive (" + e.getMessage() + ")");
        }
    }

    private void elfEntry(EntryHeader h, byte[] head) throws IOException {
        // Writing OUT (under its lock): one spool at a time, by its exact name beside OUT, so that a
        // killed run's spool is found and removed by the next run. A dry run spools in the temp directory,
        // with the process id in the name to tell whose a leftover is.
        Path spool = options.output() != null
                ? dev.ollamapatch.io.AtomicFiles.createExactTemp(Path.of(options.output() + ".entry"))
                : Files.createTempFile(options.spoolDir(), ".ollama-patch-entry." + ProcessHandle.current().pid() + ".",
                        ".ollama-patch.tmp");
        try {
            try (OutputStream s = Files.newOutputStream(spool)) {
                s.write(head);
                long copied = MAGIC + in.data().transferTo(s);
                if (copied != h.size()) {
                    throw new ArchiveReadException("entry " + h.name(), "truncated archive (entry data ends early)");
                }
            }
            try (ElfFile elf = ElfFile.open(spool)) {
                planAndWrite(h, elf, spool);
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT,
                        archive + ": entry " + h.name() + ": ELF: " + e.getMessage() + "; nothing written", e);
            }
        } finally {
            Files.deleteIfExists(spool);
        }
    }

    private void planAndWrite(EntryHeader h, ElfFile elf, Path spool) throws IOException {
        String name = h.name();
        List<LibraryTarget> libs = options.libs();
        Decided known = prior.byOrdinal().get(ordinal);
        if (known == null) {
            Decision d = FileStep.decide(elf, new FileStep.Options(
                    new PlanOptions(libs, EntryNames.installDir(options.prefix(), name)),
                    options.scan() ? null : shims::choose, true));
            known = new Decided(d, Identities.of(elf, null, d.plan().scan(), "", libs));
        }
        decided.put(ordinal, known);
        Decision d = known.decision();
        Identity id = known.identity();
        if (options.scan()) {
            reports.add(d.report(name, Sha256.of(elf.bytes()).hex(), true).withIdentity(id));
            outcomes.add(new Outcome(h, Action.COPIED, List.of(), null));
            return;
        }
        if (d instanceof Decision.Refused r) {
            reports.add(r.report(name, Sha256.of(elf.bytes()).hex(), false).withIdentity(id));
            refusal = archive + ": entry " + name + ": " + r.reason() + "; nothing written";
            return;
        }
        if (!(d instanceof Decision.Planned planned)) {
            if (d instanceof Decision.AlreadyPatched) already++;
            reports.add(d.report(name, Sha256.of(elf.bytes()).hex(), false).withIdentity(id));
            outcomes.add(new Outcome(h, Action.COPIED, List.of(), null));
            if (out != null) {
                out.begin(h);
                Files.copy(spool, out.out());
                end(h);
            }
            return;
        }
        Plan plan = planned.plan();
        ShimSource shim = planned.shim();
        ShimCheck.Result check = planned.shimCheck();
        boolean nvml = plan.retargeted().stream()
                .anyMatch(p -> p.site().library().name().equals(LibraryTarget.NVML.name()));
        String shimName = nvml ? EntryNames.shimEntry(name, libs.get(0).defaultPath()) : null;
        String shimKey = shimName == null ? null : EntryNames.key(shimName);
        if (shimName != null) EntryNames.checkInside(archive, shimName, shimKey, symlinks);
        boolean addShim = shimKey != null && !shimsAdded.contains(shimKey);
        if (addShim && seen.contains(shimKey)) {
            if (!options.force()) {
                refusal = shimConflict(shimName);
                return;
            }
            // --force: the earlier entry was copied already. Nothing more is written (this output is
            // dropped); the pass goes on as if it were not there, to find every such entry at once.
            replaceEarlier.add(shimKey);
            out = null;
        }
        patched++;
        if (out == null) {
            reports.add(new FileReport(name, Sha256.of(elf.bytes()).hex(), plan, null, null, options.status(), check).withIdentity(id));
            if (addShim) shimsAdded.add(shimKey);
            return;
        }
        out.begin(h);
        EditedCopy.CopyDigests digests = EditedCopy.write(elf.bytes(), plan.edits(), out.channel());
        end(h);
        ShimAdded added = null;
        if (addShim) {
            byte[] bytes = shim.bytes();
            EntryHeader sh = EntryHeader.shimBeside(h, shimName, bytes.length);
            out.begin(sh);
            out.out().write(bytes);
            out.end();
            shimsAdded.add(shimKey);
            added = new ShimAdded(sh, Sha256.of(bytes).hex());
        }
        outcomes.add(new Outcome(h, Action.PATCHED, plan.edits(), added));
        reports.add(new FileReport(name, digests.inputHex(), plan, options.output(), digests.outputHex(),
                options.status(), check).withIdentity(id));
    }

    private String shimConflict(String name) {
        return archive + ": entry " + name
                + ": the archive already has an entry where the shim goes; --force replaces it; nothing written";
    }

}
