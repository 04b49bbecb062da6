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
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The writing pass over an archive: every entry is read once, in order; an ELF entry is spooled to
 * a temporary file (mapped, never held in the heap), checked to be the bytes the first pass
 * ({@link ArchiveInstall}) decided on, and written by that decision, with the shim added right after it
 * as every entry the sites' resolutions name; every other entry is copied straight through, and an
 * entry where a shim goes (pass 1 found them all, and refused them without {@code --force}) is dropped.
 * One pass writes the whole output: it never starts over. With no writer (scan, dry run) the same
 * decisions are reported and nothing is written.
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

    /** What became of one input entry and the shim entries added right after it; the verifier walks these. */
    record Outcome(EntryHeader input, Action action, List<ByteEdit> edits, List<ShimAdded> shims) {}

    /** The shim entry added after a patched entry, and the SHA-256 of its bytes. */
    record ShimAdded(EntryHeader header, String sha256) {}

    /**
     * How the pass ended.
     *
     * @param refusal  why the archive is refused (the whole line for the user), or null
     */
    record Result(List<Outcome> entries, List<FileReport> reports, int patched, int alreadyPatched, int shims,
                  String refusal) {}

    private final Path archive;
    private final Options options;
    /** Pass 1: every ELF entry decided with the whole archive as its install. */
    private final ArchiveInstall install;
    private int ordinal = -1;
    private final TarReader in;
    private final TarWriter out;
    private final Progress progress;
    private final List<Outcome> outcomes = new ArrayList<>();
    private final List<FileReport> reports;
    private final Set<String> shimsAdded = new HashSet<>();
    private int patched, already;
    /** Set when the pass must stop: see {@link Result}. */
    private String refusal;

    private ArchivePatcher(Path archive, Options options, ArchiveInstall install, TarReader in, TarWriter out,
                           Progress progress, List<FileReport> reports) {
        this.archive = archive;
        this.install = install;
        this.options = options;
        this.in = in;
        this.out = out;
        this.progress = progress;
        this.reports = reports;
    }

    /**
     * Runs the pass, up to the end or to the entry that refuses the archive. The result holds each ELF
     * entry's report up to there. {@code install}: pass 1 over the same archive, which did not refuse it.
     */
    static Result run(Path archive, ArchiveFormat format, TarWriter out, Options options, ArchiveInstall install,
                      Progress progress) throws IOException {
        if (install.refusal().isPresent()) throw new IllegalArgumentException("pass 1 refused the archive");
        try (TarReader in = TarReader.open(archive, format, progress)) {
            ArchivePatcher p = new ArchivePatcher(archive, options, install, in, out, progress, new ArrayList<>());
            p.entries();
            return new Result(List.copyOf(p.outcomes), List.copyOf(p.reports), p.patched, p.already,
                    p.shimsAdded.size(), p.refusal);
        }
    }

    private void entries() throws IOException {
        byte[] head = new byte[MAGIC];
        for (EntryHeader h = in.next(); h != null; h = in.next()) {
            entry(h, head);
            if (refusal != null) return;
        }
    }

    /** Keys of the symbolic link entries seen so far: nothing may be written below one. */
    private final Set<String> symlinks = new java.util.HashSet<>();

    private void entry(EntryHeader h, byte[] head) throws IOException {
        progress.entry(h.name());
        ordinal++;
        String key = EntryNames.key(h.name());
        EntryNames.checkInside(archive, h.name(), key, symlinks);
        if (h.type() == org.apache.commons.compress.archivers.tar.TarConstants.LF_SYMLINK) symlinks.add(key);
        if (install.replaced.contains(key)) {
            // Where a shim goes, found by pass 1: there is one only with --force (else pass 1 refused).
            outcomes.add(new Outcome(h, Action.DROPPED, List.of(), List.of()));
            return;
        }
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
        outcomes.add(new Outcome(h, Action.COPIED, List.of(), List.of()));
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

    /** The entry differs from what pass 1 decided on: the input changed between the two passes. */
    private PatchException changed(String name) {
        return new PatchException(PatchException.Kind.FAILED, archive + ": entry " + name
                + ": changed while it was being read (it differs from the first pass); nothing written");
    }

    private void planAndWrite(EntryHeader h, ElfFile elf, Path spool) throws IOException {
        String name = h.name();
        List<LibraryTarget> libs = options.libs();
        ArchiveInstall.Decided decided = install.decided.get(ordinal);
        if (decided == null) throw changed(name);
        Decision d = decided.decision();
        Identity id = Identities.of(elf, null, d.plan().scan(), "", libs);
        String inputSha = Sha256.of(elf.bytes()).hex();
        if (!inputSha.equals(decided.sha256())) throw changed(name);
        if (options.scan()) {
            reports.add(d.report(name, inputSha, true).withIdentity(id));
            outcomes.add(new Outcome(h, Action.COPIED, List.of(), List.of()));
            return;
        }
        if (d instanceof Decision.Refused r) {
            reports.add(r.report(name, inputSha, false).withIdentity(id));
            refusal = archive + ": entry " + name + ": " + r.reason() + "; nothing written";
            return;
        }
        if (!(d instanceof Decision.Planned planned)) {
            if (d instanceof Decision.AlreadyPatched) already++;
            reports.add(d.report(name, inputSha, false).withIdentity(id));
            outcomes.add(new Outcome(h, Action.COPIED, List.of(), List.of()));
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
        // The shim goes into every directory the sites' resolutions name (pass 1 worked them out with the
        // whole archive as the install): beside the entry, or beside the program that calls its dlopen.
        List<String> toAdd = new ArrayList<>();
        for (String shimName : decided.shimEntries()) {
            String shimKey = EntryNames.key(shimName);
            EntryNames.checkInside(archive, shimName, shimKey, symlinks);
            // An existing entry at shimKey, before or after this one, is dropped (pass 1's install.replaced).
            if (shimsAdded.contains(shimKey) || toAdd.stream().anyMatch(n -> EntryNames.key(n).equals(shimKey))) continue;
            toAdd.add(shimName);
        }
        patched++;
        if (out == null) {
            reports.add(new FileReport(name, inputSha, plan, null, null, options.status(), check).withIdentity(id));
            toAdd.forEach(n -> shimsAdded.add(EntryNames.key(n)));
            return;
        }
        out.begin(h);
        EditedCopy.CopyDigests digests = EditedCopy.write(elf.bytes(), plan.edits(), out.channel());
        end(h);
        List<ShimAdded> added = new ArrayList<>();
        for (String shimName : toAdd) {
            byte[] bytes = shim.bytes();
            EntryHeader sh = EntryHeader.shimBeside(h, shimName, bytes.length);
            out.begin(sh);
            out.out().write(bytes);
            out.end();
            shimsAdded.add(EntryNames.key(shimName));
            added.add(new ShimAdded(sh, Sha256.of(bytes).hex()));
        }
        outcomes.add(new Outcome(h, Action.PATCHED, plan.edits(), List.copyOf(added)));
        reports.add(new FileReport(name, digests.inputHex(), plan, options.output(), digests.outputHex(),
                options.status(), check).withIdentity(id));
    }
}
