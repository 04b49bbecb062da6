package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.ArchiveReadException;
import dev.ollamapatch.archive.EntryHeader;
import dev.ollamapatch.archive.TarReader;
import dev.ollamapatch.archive.TarWriter;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * {@code apply IMAGE -o OUT} and {@code scan IMAGE} for container images: each image (each platform
 * of an index) gets one new layer with its patched files, their shims and a manifest; its config
 * gets the layer's diff_id and a history entry, its manifest the new config and layer, the index
 * the new manifest. Every other member of the input is copied byte for byte (blobs checked against
 * their digests on the way). OUT is written beside its final place and renamed there at the end:
 * any failure leaves nothing.
 */
public final class ImageApply {
    /**
     * @param platform  patch only the images of this platform ({@code os/arch[/variant]}); null: all
     * @param tool      the tool and version, for the history entry and the manifests
     */
    public record Options(Path image, Path output, List<LibraryTarget> libs, Path userShim, boolean dryRun,
                          boolean force, String platform, String tool) {}

    /** The reports, each naming where in the input it came from (the image, and the platform when several). */
    public record Reports(List<FileReport> files) {
        public Reports() {
            this(new ArrayList<>());
        }
    }

    private ImageApply() {}

    public static boolean isImage(Path path) {
        return ImageKind.isImage(path);
    }

    public static void scan(Path image, List<LibraryTarget> libs, String platform, Reports reports) throws IOException {
        Options o = new Options(image, null, libs, null, true, false, platform, "");
        ApplyOutcome refused = run(o, reports, true);
        if (refused != null) throw new PatchException(PatchException.Kind.REFUSED, refused.messages().get(0));
    }

    public static ApplyOutcome run(Options o, Reports reports) throws IOException {
        return run(o, reports, false);
    }

    private static ApplyOutcome run(Options o, Reports reports, boolean scan) throws IOException {
        ImageKind kind = ImageKind.of(o.image()).orElseThrow(() -> new PatchException(PatchException.Kind.INVALID_INPUT,
                o.image() + ": not a container image"));
        Path destination = null;
        if (!scan) destination = checkOutput(o, kind);
        Path work = Files.createTempDirectory(destination == null
                ? Path.of(System.getProperty("java.io.tmpdir")) : destination.getParent(), ".ollama-patch-image.");
        // An output layout directory is made beside its place from the start: layers read to be stacked
        // are copied into it as they stream past, so that no blob is read twice.
        // An output tarball is written from the start, and its layers go in as they are read.
        Path tempOut = null;
        TarWriter tarOut = null;
        BlobCopies copies = null;
        if (!scan && !o.dryRun() && kind == ImageKind.OCI_DIRECTORY) {
            tempOut = Files.createTempDirectory(destination.getParent(), "." + destination.getFileName() + ".ollama-patch.");
            copies = BlobCopies.into(tempOut);
        } else if (!scan && !o.dryRun()) {
            tempOut = AtomicFiles.createTemp(destination);
            tarOut = TarWriter.create(tempOut, ArchiveFormat.TAR);
            copies = BlobCopies.into(tarOut);
        }
        try (ImageSource src = ImageSource.open(o.image(), kind)) {
            Input input = read(src, kind);
            List<Image> chosen = choose(input.images(), o.platform());
            boolean several = chosen.size() > 1;
            Map<Image, Rewrite> rewrites = new java.util.LinkedHashMap<>(); // by identity (Image.equals), in input order
            int patchedFiles = 0, already = 0, shims = 0;
            String refusal = null;
            for (Image img : chosen) {
                String label = o.image() + (several ? " (" + img.platform() + ")" : "") + ": ";
                List<FileReport> mine = new ArrayList<>();
                PlatformPatch.Options po = new PlatformPatch.Options(o.libs(), o.userShim(), o.force(), work,
                        o.dryRun() ? Status.PLANNED : Status.PATCHED, scan, o.tool(), copies,
                        destination == null ? null : destination.toString());
                PlatformPatch p = new PlatformPatch(src, img, po, several ? "(" + img.platform() + ") " : "", mine);
                Path layerFile = o.dryRun() ? null : Files.createTempFile(work, "layer.", ".blob");
                PlatformPatch.NewLayer layer;
                try {
                    layer = p.run(layerFile, kind == ImageKind.DOCKER_ARCHIVE);
                } catch (PlatformPatch.Refusal r) {
                    refusal = r.getMessage();
                    layer = null;
                } finally {
                    for (FileReport r : mine) reports.files().add(r.inArchive(o.image() + (several ? " (" + img.platform() + ")" : "")));
                }
                if (refusal != null) return ApplyOutcome.refused(refusal, reports.files());
                patchedFiles += p.patchedCount();
                already += p.already;
                if (layer != null) {
                    shims += layer.shims();
                    rewrites.put(img, rewrite(img, layer, p, o));
                } else if (layerFile != null) {
                    Files.deleteIfExists(layerFile);
                }
            }
            if (scan) return null;
            if (patchedFiles == 0) {
                String what = already > 0 ? "already patched (its Ollama names the shim); nothing to do"
                        : "nothing to patch: no Ollama file in the image names " + LibraryTarget.NVML.name();
                List<String> line = List.of(o.image() + ": " + what + "; nothing written");
                return already > 0 ? ApplyOutcome.done(line, reports.files())
                        : ApplyOutcome.nothingToPatch(line, reports.files());
            }
            if (o.dryRun()) {
                return ApplyOutcome.done(List.of(o.image() + ": dry run: " + patchedFiles + " file"
                        + (patchedFiles == 1 ? "" : "s") + " would be patched in " + chosen.size() + " image"
                        + (chosen.size() == 1 ? "" : "s") + "; nothing written"), reports.files());
            }
            Output out = assemble(input, rewrites, kind);
            write(src, kind, out, destination, tempOut, copies, tarOut);
            List<String> lines = new ArrayList<>();
            lines.add(String.format("wrote %s (%s): %d file%s patched, %d shim%s added, "
                            + "in one new layer per image (%d image%s)", destination, kind.description(), patchedFiles,
                    patchedFiles == 1 ? "" : "s", shims, shims == 1 ? "" : "s", rewrites.size(),
                    rewrites.size() == 1 ? "" : "s"));
            if (!out.droppedAttestations().isEmpty()) {
                lines.add(out.droppedAttestations().size() + " attestation manifest"
                        + (out.droppedAttestations().size() == 1 ? "" : "s") + " of the replaced image"
                        + (rewrites.size() == 1 ? "" : "s") + " left out of the index (they attest the image before "
                        + "patching, not this one): " + String.join(", ", out.droppedAttestations()));
            }
            return ApplyOutcome.done(lines, reports.files());
        } finally {
            if (tarOut != null) tarOut.close();
            deleteTree(work);
            if (tempOut != null) deleteTree(tempOut);
        }
    }

    private static Path checkOutput(Options o, ImageKind kind) throws IOException {
        if (o.output() == null) {
            throw new PatchException(PatchException.Kind.USAGE, o.image()
                    + ": an image is not patched in place; give the output image with -o OUT");
        }
        Path d = o.output().toAbsolutePath();
        if (kind == ImageKind.OCI_DIRECTORY) {
            if (Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
                throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output()
                        + ": already exists; the output OCI layout directory must be a new path");
            }
        } else if (Files.isDirectory(d)) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + ": is a directory; the input is a "
                    + kind.description() + ", so the output is one too (a file)");
        } else if (Files.exists(d) && Files.isSameFile(d, o.image())) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + " is the input image");
        }
        if (!Files.isDirectory(d.getParent())) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + ": no such directory " + d.getParent());
        }
        return d;
    }

    /** The input's indexes and images. */
    private record Input(ObjectNode index, Map<String, ObjectNode> nestedIndexes, JsonNode dockerManifest,
                         List<Image> images) {}

    private static Input read(ImageSource src, ImageKind kind) throws IOException {
        List<Image> images = new ArrayList<>();
        ObjectNode index = null;
        JsonNode docker = null;
        Map<String, ObjectNode> nested = new TreeMap<>();
        if (kind != ImageKind.DOCKER_ARCHIVE) {
            byte[] bytes;
            try (InputStream in = src.open(ImageKind.INDEX, ImageKind.INDEX)) {
                bytes = in.readNBytes(64 << 20);
            }
            index = (ObjectNode) Blobs.parse(bytes, ImageKind.INDEX);
            walkIndex(src, index, ImageKind.INDEX, images, nested, 0);
        }
        if (src.has(ImageKind.DOCKER_MANIFEST)) {
            byte[] bytes;
            try (InputStream in = src.open(ImageKind.DOCKER_MANIFEST, ImageKind.DOCKER_MANIFEST)) {
                bytes = in.readNBytes(64 << 20);
            }
            try {
                docker = Blobs.JSON.readTree(bytes);
            } catch (IOException e) {
                throw Blobs.invalid(ImageKind.DOCKER_MANIFEST + ": not valid JSON");
            }
            if (docker == null || !docker.isArray()) throw Blobs.invalid(ImageKind.DOCKER_MANIFEST + ": not a JSON array");
            if (kind == ImageKind.DOCKER_ARCHIVE) {
                for (int i = 0; i < docker.size(); i++) images.add(Image.docker(src, docker.get(i), i));
            }
        }
        if (images.isEmpty()) throw Blobs.invalid(src.path + ": the image lists no image manifest");
        return new Input(index, nested, docker, images);
    }

    private static void walkIndex(ImageSource src, ObjectNode index, String where, List<Image> images,
                                  Map<String, ObjectNode> nested, int depth) throws IOException {
        if (depth > 4) throw Blobs.invalid(where + ": indexes nested too deep");
        JsonNode list = index.path("manifests");
        if (!list.isArray()) throw Blobs.invalid(where + ": no manifests list");
        for (int i = 0; i < list.size(); i++) {
            Blobs.Descriptor d = Blobs.Descriptor.of(list.get(i), where + ": manifests[" + i + "]");
            if (MediaTypes.isIndex(d.mediaType())) {
                ObjectNode n = (ObjectNode) Blobs.parse(Blobs.readVerified(src, d.blobPath(), d), "index " + d.digest());
                nested.put(d.digest(), n);
                walkIndex(src, n, "index " + d.digest(), images, nested, depth + 1);
            } else if (MediaTypes.isManifest(d.mediaType())) {
                JsonNode platform = d.node().path("platform");
                // Attestations and other artifacts ride in indexes as "unknown/unknown": not images to patch.
                if (platform.path("os").asText("").equals("unknown")) continue;
                if (d.node().path("annotations").has("vnd.docker.reference.type")) continue;
                images.add(Image.oci(src, d, index, i, platform.isMissingNode() ? null : Image.platformOf(platform)));
            } else {
                throw Blobs.invalid(where + ": manifests[" + i + "] " + d.digest() + " has unknown media type \""
                        + d.mediaType() + "\"");
            }
        }
    }

    private static List<Image> choose(List<Image> images, String platform) {
        if (platform == null) return images;
        List<Image> out = images.stream().filter(i -> i.platform().equals(platform)
                || i.platform().startsWith(platform + "/")).toList();
        if (out.isEmpty()) {
            throw new PatchException(PatchException.Kind.USAGE, "--platform " + platform + ": the image has "
                    + String.join(", ", images.stream().map(Image::platform).toList()));
        }
        return out;
    }

    /** An image's new blobs. */
    private record Rewrite(PlatformPatch.NewLayer layer, byte[] config, Blobs.Descriptor configDescriptor,
                           byte[] manifest, Blobs.Descriptor manifestDescriptor) {}

    private static Rewrite rewrite(Image img, PlatformPatch.NewLayer layer, PlatformPatch p, Options o) {
        List<String> names = p.patchedNames();
        ObjectNode config = img.patchedConfig(layer.diffId(), o.tool() + " apply",
                "retargeted " + LibraryTarget.NVML.name() + " to the shim in " + String.join(", ", names));
        byte[] cb = Blobs.bytes(config);
        Blobs.Descriptor cd = new Blobs.Descriptor(img.configDescriptor().mediaType(),
                "sha256:" + Blobs.hex(Sha256.digest().digest(cb)), cb.length, null);
        if (img.manifest() == null) return new Rewrite(layer, cb, cd, null, null);
        byte[] mb = Blobs.bytes(img.patchedManifest(cd, layer.descriptor()));
        Blobs.Descriptor md = new Blobs.Descriptor(img.manifestDescriptor().mediaType(),
                "sha256:" + Blobs.hex(Sha256.digest().digest(mb)), mb.length, null);
        return new Rewrite(layer, cb, cd, mb, md);
    }

    /**
     * What the output holds beyond the input: new members (name -> bytes or file), replaced ones, and
     * the digests of the attestation manifests no longer listed.
     */
    private record Output(Map<String, Object> added, Map<String, byte[]> replaced, List<String> droppedAttestations) {}

    /** BuildKit's annotations on an index entry that attests another entry (its provenance, its SBOM). */
    static final String REFERENCE_TYPE = "vnd.docker.reference.type";
    static final String REFERENCE_DIGEST = "vnd.docker.reference.digest";
    static final String ATTESTATION = "attestation-manifest";

    private static Output assemble(Input input, Map<Image, Rewrite> rewrites, ImageKind kind) {
        Map<String, Object> added = new TreeMap<>();
        Map<String, byte[]> replaced = new TreeMap<>();
        Map<String, String> configMembers = new HashMap<>(); // old config member -> new
        Map<String, String> layerMembers = new HashMap<>();  // old config member -> new layer member
        boolean blobStyle = kind != ImageKind.DOCKER_ARCHIVE;
        for (Map.Entry<Image, Rewrite> e : rewrites.entrySet()) {
            Image img = e.getKey();
            Rewrite r = e.getValue();
            if (img.dockerIndex() >= 0) {
                blobStyle = img.configMember().startsWith("blobs/");
            }
            String layerMember = blobStyle ? r.layer().descriptor().blobPath() : r.layer().diffId().substring(7) + "/layer.tar";
            String configMember = blobStyle ? r.configDescriptor().blobPath() : r.configDescriptor().hex() + ".json";
            added.put(layerMember, r.layer().file());
            added.put(configMember, r.config());
            configMembers.put(img.configMember(), configMember);
            layerMembers.put(img.configMember(), layerMember);
            if (r.manifest() != null) {
                added.put(r.manifestDescriptor().blobPath(), r.manifest());
                ObjectNode d = (ObjectNode) img.parent().get("manifests").get(img.position());
                d.put("digest", r.manifestDescriptor().digest());
                d.put("size", r.manifestDescriptor().size());
            }
        }
        // An attestation names the manifest it attests by digest and describes that image's build: it
        // does not describe the patched image, and re-pointing it would claim that it did. The entries
        // attesting a replaced manifest are left out of its index (their blobs stay in the layout,
        // unreferenced, as the image layout specification allows); the other platforms' stay.
        List<String> dropped = new ArrayList<>();
        for (Map.Entry<Image, Rewrite> e : rewrites.entrySet()) {
            Image img = e.getKey();
            if (img.manifest() == null || e.getValue().manifest() == null) continue;
            String old = img.manifestDescriptor().digest();
            ArrayNode list = (ArrayNode) img.parent().get("manifests");
            for (int i = list.size() - 1; i >= 0; i--) {
                JsonNode a = list.get(i).path("annotations");
                if (a.path(REFERENCE_TYPE).asText("").equals(ATTESTATION) && a.path(REFERENCE_DIGEST).asText("").equals(old)) {
                    dropped.add(list.get(i).path("digest").asText(""));
                    list.remove(i);
                }
            }
        }
        Collections.sort(dropped);
        if (input.index() != null) {
            // Nested indexes changed above are rewritten innermost first, then their own descriptors.
            List<Map.Entry<String, ObjectNode>> nested = new ArrayList<>(input.nestedIndexes().entrySet());
            for (int pass = 0; pass < 5; pass++) {
                for (Map.Entry<String, ObjectNode> n : nested) {
                    byte[] b = Blobs.bytes(n.getValue());
                    String digest = "sha256:" + Blobs.hex(Sha256.digest().digest(b));
                    if (digest.equals(n.getKey())) continue;
                    added.put("blobs/sha256/" + digest.substring(7), b);
                    retarget(input.index(), n.getKey(), digest, b.length);
                    for (Map.Entry<String, ObjectNode> m : nested) retarget(m.getValue(), n.getKey(), digest, b.length);
                }
            }
            replaced.put(ImageKind.INDEX, Blobs.bytes(input.index()));
        }
        if (input.dockerManifest() != null) {
            ArrayNode m = input.dockerManifest().deepCopy();
            for (JsonNode el : m) {
                String config = Names.key(el.path("Config").asText(""));
                if (!configMembers.containsKey(config)) continue;
                ((ObjectNode) el).put("Config", configMembers.get(config));
                ((ArrayNode) el.get("Layers")).add(layerMembers.get(config));
            }
            replaced.put(ImageKind.DOCKER_MANIFEST, Blobs.bytes(m));
        }
        return new Output(added, replaced, dropped);
    }

    private static void retarget(ObjectNode index, String from, String to, long size) {
        for (JsonNode d : index.path("manifests")) {
            if (d.path("digest").asText("").equals(from)) {
                ((ObjectNode) d).put("digest", to);
                ((ObjectNode) d).put("size", size);
            }
        }
    }

    private static void write(ImageSource src, ImageKind kind, Output out, Path destination, Path tempOut,
                              BlobCopies copies, TarWriter tarOut) throws IOException {
        if (kind == ImageKind.OCI_DIRECTORY) {
            writeDirectory((ImageSource.Directory) src, out, tempOut, copies);
            Files.move(tempOut, destination, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDirectory(destination.getParent());
            return;
        }
        writeTarball(src, out, tarOut, copies);
        tarOut.finish();
        AtomicFiles.commit(tempOut, destination);
    }

    private static void writeDirectory(ImageSource.Directory src, Output out, Path temp, BlobCopies copies)
            throws IOException {
        for (String name : src.names()) {
            Path to = temp.resolve(name);
            if (name.endsWith("/")) {
                Files.createDirectories(to);
                continue;
            }
            Files.createDirectories(to.getParent());
            if (out.replaced().containsKey(name)) {
                Files.write(to, out.replaced().get(name));
            } else if (!copies.done(name)) {
                // A blob is a hard link to the input's where it can be; it is read and checked all the same.
                boolean linked = copies.link(name, src.file(name));
                try (InputStream in = verifying(src, name);
                     OutputStream o = linked ? OutputStream.nullOutputStream() : Files.newOutputStream(to)) {
                    in.transferTo(o);
                    if (in instanceof Blobs.Verifying v) v.finish();
                }
                if (linked) copies.linked(name);
            }
            fsync(to);
        }
        for (Map.Entry<String, Object> e : out.added().entrySet()) {
            Path to = temp.resolve(e.getKey());
            Files.createDirectories(to.getParent());
            if (e.getValue() instanceof byte[] b) Files.write(to, b);
            else Files.copy((Path) e.getValue(), to, StandardCopyOption.REPLACE_EXISTING);
            AtomicFiles.fsync(to);
        }
    }

    /** Makes {@code file}'s content durable; read-only: a hard link shares the input's file, which is not written. */
    private static void fsync(Path file) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** A member's bytes; a blob named by its digest is checked against it as it is read. */
    private static InputStream verifying(ImageSource src, String name) throws IOException {
        InputStream in = src.open(name, name);
        String key = Names.key(name);
        if (key.matches("blobs/sha256/[0-9a-f]{64}")) {
            long size = src.size(key);
            return new Blobs.Verifying(in, new Blobs.Descriptor("", "sha256:" + Names.base(key), size, null));
        }
        return in;
    }

    /** The rest of the output tarball: every input member not copied yet, then the new ones. */
    private static void writeTarball(ImageSource src, Output out, TarWriter w, BlobCopies copies) throws IOException {
        EntryHeader last = null;
        try (TarReader in = TarReader.open(new BufferedInputStream(Files.newInputStream(src.path), 1 << 16),
                ArchiveFormat.TAR)) {
            for (EntryHeader h = in.next(); h != null; h = in.next()) {
                String key = Names.key(h.name());
                last = h;
                if (h.isRegular() && copies.done(key)) continue; // went in as its layer was read
                byte[] replacement = out.replaced().get(key);
                if (replacement != null && h.isRegular()) {
                    w.begin(withSize(h, replacement.length));
                    w.out().write(replacement);
                } else {
                    w.begin(h);
                    if (h.isRegular() && key.matches("blobs/sha256/[0-9a-f]{64}")) {
                        Blobs.Verifying v = new Blobs.Verifying(in.data(),
                                new Blobs.Descriptor("", "sha256:" + Names.base(key), h.size(), null));
                        v.transferTo(w.out());
                        v.finish();
                    } else {
                        w.copy(in.data());
                    }
                }
                w.end();
            }
            for (Map.Entry<String, Object> e : out.added().entrySet()) {
                long size = e.getValue() instanceof byte[] b ? b.length : Files.size((Path) e.getValue());
                w.begin(member(e.getKey(), size, last));
                if (e.getValue() instanceof byte[] b) w.out().write(b);
                else Files.copy((Path) e.getValue(), w.out());
                w.end();
            }
        } catch (ArchiveReadException e) {
            throw Blobs.invalid(src.path + ": " + e.getMessage());
        }
    }

    private static EntryHeader withSize(EntryHeader h, long size) {
        return new EntryHeader(h.name(), h.type(), h.mode(), h.uid(), h.gid(), h.uname(), h.gname(), h.mtime(),
                h.atime(), h.ctime(), h.birth(), h.linkName(), size, h.devMajor(), h.devMinor(), h.extraPax());
    }

    /** A new member: owner root, mode 0644, the time of the input's last member (reproducible). */
    private static EntryHeader member(String name, long size, EntryHeader like) {
        return new EntryHeader(name, TarConstants.LF_NORMAL, 0100644, 0, 0, "", "", like.mtime(), null, null, null,
                "", size, 0, 0, Map.of());
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
