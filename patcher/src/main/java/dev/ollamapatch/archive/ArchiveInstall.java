package dev.ollamapatch.archive;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.Resolver;
import dev.ollamapatch.resolve.SecureExecution;
import dev.ollamapatch.resolve.ShimTargets;
import dev.ollamapatch.site.LibraryTarget;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The first of an archive's two passes: its ELF entries read as one install, so that each site is
 * resolved as in an installed tree (docs/resolution.md): a library's tail-called {@code dlopen} resolves
 * to the directory of the program in {@code bin/} that calls it, which only the program's entry can
 * tell. Each ELF entry is spooled to a file only until it is mapped (the file is deleted at once; the
 * mapping keeps its pages), so at most one spool name exists at a time and nothing is held in the heap.
 * Every entry is decided here, and so, before anything is written, is every entry the shim is added as
 * and every existing entry that sits where a shim goes: without {@code --force} that is a refusal, with
 * it the second pass ({@link ArchivePatcher}) drops those entries. The second pass writes by these
 * decisions, once: a stream cannot take back what it wrote, so nothing it needs is found only there.
 */
final class ArchiveInstall {
    /**
     * What pass 1 decided for one ELF entry, the SHA-256 of the bytes it decided on, and the entries the
     * shim must be added as for its retargeted NVML sites (every directory their resolutions name).
     */
    record Decided(Decision decision, String sha256, List<String> shimEntries) {}

    /** Decisions by the entry's ordinal in the archive (0 = first header). */
    final Map<Integer, Decided> decided = new HashMap<>();
    /** Every entry's key, as {@link EntryNames#key} makes it, and the name of its first entry, in archive order. */
    final Map<String, String> keys = new LinkedHashMap<>();
    /** The keys of every shim entry some decision adds. */
    final Set<String> shimKeys = new HashSet<>();
    /**
     * The keys of existing entries where a shim goes, in archive order (before or after the entry the shim
     * is added for): with {@code --force} pass 2 drops them; without it {@link #refusal} names the first.
     */
    final Set<String> replaced = new LinkedHashSet<>();
    private Refusal refusal;

    private final ShimSource.PerMachine shims;
    /** ELF entries that a later entry of the same name replaces on extraction. */
    private final List<Member> shadowed = new ArrayList<>();
    private final ArchivePatcher.Options options;

    private ArchiveInstall(ArchivePatcher.Options options) {
        this.options = options;
        this.shims = new ShimSource.PerMachine(options.userShim());
    }

    /** Why the archive is refused before anything is written: an entry where a shim goes, without --force. */
    Optional<Refusal> refusal() {
        return Optional.ofNullable(refusal);
    }

    /** One ELF entry, mapped: where it will be once extracted under the prefix, and its header. */
    private record Member(int ordinal, String name, Path installed, ElfFile elf, EntryHeader header) {}

    static ArchiveInstall read(Path archive, ArchiveFormat format, ArchivePatcher.Options options, Progress progress)
            throws IOException {
        ArchiveInstall install = new ArchiveInstall(options);
        List<Member> members = new ArrayList<>();
        try {
            install.readMembers(archive, format, progress, members);
            install.decide(archive, members);
            install.findReplaced(archive);
        } finally {
            for (Member m : members) m.elf().close();
            for (Member m : install.shadowed) m.elf().close();
        }
        return install;
    }

    private void readMembers(Path archive, ArchiveFormat format, Progress progress, List<Member> members)
            throws IOException {
        Set<String> symlinks = new HashSet<>();
        Map<String, Integer> installed = new HashMap<>();
        byte[] head = new byte[ElfConstants.SELFMAG];
        try (TarReader in = TarReader.open(archive, format, progress)) {
            int ordinal = 0;
            for (EntryHeader h = in.next(); h != null; h = in.next(), ordinal++) {
                progress.entry(h.name());
                String key = EntryNames.key(h.name());
                EntryNames.checkInside(archive, h.name(), key, symlinks);
                if (h.type() == TarConstants.LF_SYMLINK) symlinks.add(key);
                keys.putIfAbsent(key, h.name());
                if (!h.isRegular() || h.size() < head.length) continue;
                in.readFully(head, head.length);
                if (!ElfConstants.hasElfMagic(head)) continue;
                Path at = EntryNames.installedAt(options.prefix(), key);
                Integer earlier = installed.put(key, ordinal);
                if (earlier != null) {
                    // The later entry replaces the earlier on extraction: only it is part of the install; the
                    // earlier one is still written, decided on its own as before (no resolution).
                    for (Member m : members) {
                        if (m.ordinal() == earlier) shadowed.add(m);
                    }
                    members.removeAll(shadowed);
                }
                members.add(new Member(ordinal, h.name(), at, spoolAndMap(archive, h, head, in), h));
            }
        }
    }

    /** Spools the entry by one exact name, maps it, and deletes the name: the mapping keeps the pages. */
    private ElfFile spoolAndMap(Path archive, EntryHeader h, byte[] head, TarReader in) throws IOException {
        Path spool = options.output() != null
                ? AtomicFiles.createExactTemp(Path.of(options.output() + ".entry"))
                : Files.createTempFile(options.spoolDir(), ".ollama-patch-entry." + ProcessHandle.current().pid() + ".",
                        ".ollama-patch.tmp");
        try {
            try (OutputStream s = Files.newOutputStream(spool)) {
                s.write(head);
                long copied = head.length + in.data().transferTo(s);
                if (copied != h.size()) {
                    throw new ArchiveReadException("entry " + h.name(), "truncated archive (entry data ends early)");
                }
            }
            return ElfFile.open(spool);
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT,
                    archive + ": entry " + h.name() + ": ELF: " + e.getMessage() + "; nothing written", e);
        } finally {
            Files.deleteIfExists(spool);
        }
    }

    private void decide(Path archive, List<Member> members) throws IOException {
        List<Resolver.Member> install = new ArrayList<>();
        for (Member m : members) {
            install.add(new Resolver.Member(m.installed(), m.elf(), SecureExecution.ofEntry(m.header().mode(),
                    m.header().extraPax())));
        }
        InstallResolutions resolutions = InstallResolutions.ofMembers(install);
        List<Member> all = new ArrayList<>(members);
        all.addAll(shadowed);
        for (Member m : all) {
            try {
                boolean inInstall = members.contains(m);
                Decision d = FileStep.decide(m.elf(), new FileStep.Options(
                        new PlanOptions(options.libs(), EntryNames.installDir(options.prefix(), m.name()),
                                inInstall ? resolutions.forFile(m.installed()) : null),
                        options.scan() ? null : shims::choose, true));
                List<String> shimEntries = new ArrayList<>();
                if (d instanceof Decision.Planned planned && !options.scan()) {
                    for (Path shim : ShimTargets.of(planned.plan(), m.installed(), LibraryTarget.NVML)) {
                        String entry = EntryNames.shimEntryAt(m.name(), options.prefix(), shim,
                                options.libs().get(0).defaultPath());
                        shimEntries.add(entry);
                        shimKeys.add(EntryNames.key(entry));
                    }
                }
                decided.put(m.ordinal(), new Decided(d, Sha256.of(m.elf().bytes()).hex(), List.copyOf(shimEntries)));
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT,
                        archive + ": entry " + m.name() + ": ELF: " + e.getMessage() + "; nothing written", e);
            }
        }
    }

    /** The existing entries where a shim goes: see {@link #replaced}. */
    private void findReplaced(Path archive) {
        for (Map.Entry<String, String> e : keys.entrySet()) {
            if (!shimKeys.contains(e.getKey())) continue;
            replaced.add(e.getKey());
            if (refusal == null && !options.force()) {
                refusal = Refusal.refused(archive + ": entry " + e.getValue()
                        + ": the archive already has an entry where the shim goes; --force replaces it; nothing written");
            }
        }
    }
}
