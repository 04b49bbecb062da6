// The tool as one named module, so that jlink can put it inside the runtime image and class-data
// sharing can archive its classes whatever directory the release is unpacked into (an archive that
// names a class-path jar is refused when the jar moves). Jackson's optional java.beans, java.sql and
// XML support are not needed by the tool: requires static keeps them out of the image.
module dev.ollamapatch {
    requires jdk.unsupported;
    requires static java.desktop;
    requires static java.sql;
    requires static java.xml;
}
