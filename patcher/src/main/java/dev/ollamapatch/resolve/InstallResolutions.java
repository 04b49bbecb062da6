package dev.ollamapatch.resolve;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteKind;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The resolver over the ELF files of one install, opened from disk. Each file is named by where it is
 * (or will be) installed and read from where its bytes are now: the same path in place; the input file
 * for {@code apply -o}; the kept original when re-targeting.
 */
public final class InstallResolutions implements AutoCloseable {
    private final List<ElfFile> open = new ArrayList<>();
    private final Resolver resolver;

    /** {@code installed -> source}: where each member will be, and where its bytes are read from now. */
    public InstallResolutions(Map<Path, Path> installedToSource) throws IOException {
        List<Resolver.Member> members = new ArrayList<>();
        try {
            Map<Path, SecureExecution> secure = SecureExecution.ofAll(List.copyOf(installedToSource.values()));
            for (Map.Entry<Path, Path> e : installedToSource.entrySet()) {
                ElfFile elf = ElfFile.open(e.getValue());
                open.add(elf);
                members.add(new Resolver.Member(e.getKey(), elf, secure.get(e.getValue())));
            }
            this.resolver = new Resolver(members);
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * The install of members that are not files on disk where they will be installed (the ELF entries of
     * an archive, the ELF files of an image's merged view): each already mapped by the caller, named by the
     * path it will have once extracted, with the set-id bits and capabilities its archive header gives.
     * The caller keeps the mappings open while this is used and closes them.
     */
    public static InstallResolutions ofMembers(List<Resolver.Member> members) {
        return new InstallResolutions(new Resolver(members));
    }

    private InstallResolutions(Resolver resolver) {
        this.resolver = resolver;
    }

    /** The install of these files, each read where it stands. */
    public static InstallResolutions of(List<Path> files) throws IOException {
        Map<Path, Path> m = new LinkedHashMap<>();
        for (Path f : files) m.put(f.toAbsolutePath().normalize(), f);
        return new InstallResolutions(m);
    }

    /** Where the loader looks for each site of one file; {@link #prepare} lets one pass over its code serve every site. */
    public interface SiteResolutions extends Function<Site, Resolution> {
        void prepare(List<Site> sites);
    }

    /** The resolution of each site of the member installed at {@code installed}, for the planner. */
    public SiteResolutions forFile(Path installed) {
        Path p = installed.toAbsolutePath().normalize();
        Map<Long, Resolution> cache = new LinkedHashMap<>();
        Function<Site, Resolution> one = site -> cache.computeIfAbsent(site.offset(), k -> {
            if (site.vaddr() < 0) return Resolution.unknown("the string is not loaded into memory");
            try {
                return resolver.resolve(p, site.vaddr(), site.length(), site.kind() == SiteKind.DYNSTR);
            } catch (ElfFormatException e) {
                // Another file of the install is malformed where the resolver reads it: no directory can be named.
                return Resolution.unknown("a file of the install could not be read: " + e.getMessage());
            }
        });
        return new SiteResolutions() {
            @Override
            public Resolution apply(Site site) {
                return one.apply(site);
            }

            @Override
            public void prepare(List<Site> sites) {
                try {
                    resolver.prepare(p, sites.stream().filter(s -> s.vaddr() >= 0 && s.kind() != SiteKind.DYNSTR)
                            .map(s -> new long[] {s.vaddr(), s.length()}).toList());
                } catch (ElfFormatException e) {
                    // Each site then reports the fault through apply.
                }
            }
        };
    }

    /** See {@link Resolver#warm}: for the member installed at {@code installed}, on the calling thread. */
    public void warm(Path installed) {
        resolver.warm(installed.toAbsolutePath().normalize());
    }

    /** The resolution of {@code [vaddr, vaddr+length)} in the member installed at {@code installed}. */
    public Resolution resolve(Path installed, long vaddr, int length, boolean dynstr) {
        return resolver.resolve(installed.toAbsolutePath().normalize(), vaddr, length, dynstr);
    }

    @Override
    public void close() {
        for (ElfFile e : open) e.close();
    }
}
